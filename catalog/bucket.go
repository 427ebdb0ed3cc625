package catalog

// What Mastodon writes into its bucket besides the keys of layout.go: the Cache-Control
// header of every object, and the directories its keys start with.

// CacheControl is the Cache-Control header Mastodon sets on every object it uploads to S3
// (config/initializers/paperclip.rb: s3_headers 'Cache-Control' => 'public, max-age=315576000,
// immutable'; the same for Swift's fog_file). A copied object whose source has none gets it,
// as Mastodon would have written it.
const CacheControl = "public, max-age=315576000, immutable"

// Prefixes returns the key prefixes Mastodon writes under, without S3_KEY_PREFIX: each kind's
// class directory, and the same under cache/ (config/initializers/paperclip.rb: PATH is
// ':prefix_url:class/:attachment/…', and :prefix_url is 'cache/' for remote records).
func Prefixes() []string {
	out := make([]string, 0, 2*len(AllKinds))
	for _, k := range AllKinds {
		out = append(out, string(k)+"/", "cache/"+string(k)+"/")
	}
	return out
}
