package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/internal/text"
	"github.com/s3sync/s3sync/storage"
)

// newCheckCommand is `s3sync check`, the preflight.
func newCheckCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "probe both buckets and the database before any work, and say what to fix",
		Description: "Checks credentials, buckets, list/get/put/delete rights (with a small temporary object it\n" +
			"removes), ACL and checksum headers at the destination, addressing style, key prefix, server-side\n" +
			"copy between the buckets, and the database's tables. Exit 1 when an item failed.\n\n" +
			"Example:\n  s3sync --config private/config.ini check",
		Action: func(c *cli.Context) error { return runCheck(c.Context, g) },
	}
}

// checkItem is one line of the preflight.
type checkItem struct {
	name, verdict, detail string
	fix                   string // config lines that would fix it, "" = none
}

// checker collects the verdicts.
type checker struct{ items []checkItem }

func (k *checker) ok(name, detail string) {
	k.items = append(k.items, checkItem{name, "ok", detail, ""})
}
func (k *checker) warn(name, detail, fix string) {
	k.items = append(k.items, checkItem{name, "warn", detail, fix})
}
func (k *checker) fail(name, detail, fix string) {
	k.items = append(k.items, checkItem{name, "FAIL", detail, fix})
}

func runCheck(ctx context.Context, g *globals) error {
	cfg, err := g.s3Config()
	if err != nil {
		return err
	}
	k := &checker{}
	src := checkBucket(ctx, k, "source", *cfg.Source)
	dst := checkBucket(ctx, k, "destination", *cfg.Destination)
	var sample string
	if src != nil {
		sample = checkSource(ctx, k, src, cfg.Source)
	}
	if dst != nil {
		checkDestination(ctx, k, dst, cfg.Destination, cfg.ACLPolicy)
		checkUploads(ctx, g, k, dst, cfg)
	}
	switch {
	case src == nil || dst == nil:
	case !src.SameEndpoint(dst):
		k.ok("server-side copy", "not possible: different endpoints; copy streams (--server-side auto)")
	case sample == "":
		k.warn("server-side copy", "not probed: the source bucket is empty", "")
	default:
		if err := dst.ProbeCopy(ctx, src, sample); err != nil {
			k.warn("server-side copy", "refused, copy will stream: "+text.OneLine(err.Error()), "")
		} else {
			k.ok("server-side copy", "works: copy runs server-side (CopyObject), no bytes pass through s3sync")
		}
	}
	if cfg.Database != nil {
		checkDatabase(ctx, g, k, cfg)
	} else {
		k.fail("database", "no [pg.database] section", "[pg.database]\nhost = 127.0.0.1\nport = 5432\nuser = mastodon\ndatabase = mastodon_production")
	}
	return printCheck(g.stdout, k)
}

// checkBucket checks endpoint, credentials, bucket, region and addressing; nil when unusable.
func checkBucket(ctx context.Context, k *checker, side string, sc storage.Config) *storage.Client {
	section := "[s3." + side + "]"
	cl, err := storage.New(sc)
	if err != nil {
		k.fail(side+" config", err.Error(), section)
		return nil
	}
	err = cl.CheckBucket(ctx)
	if err == nil {
		k.ok(side+" bucket", cl.String()+": reachable, credentials accepted")
		return cl
	}
	code, status := storage.Code(err)
	fix := ""
	switch {
	case code == "NoSuchBucket":
		fix = section + "\nbucket = <an existing bucket>"
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || status == 403:
		fix = section + "\naccess_key = …\nsecret_key = …   ; or S3SYNC_" + strings.ToUpper(side) + "_ACCESS_KEY / _SECRET_KEY"
	case code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || status == 301:
		fix = section + "\nregion = <the bucket's region>"
	}
	if fix == "" && sc.Endpoint != "" {
		if alt, aerr := storage.PathStyleAlternative(sc); aerr == nil && alt.CheckBucket(ctx) == nil {
			fix = fmt.Sprintf("%s\npath_style = %t", section, !sc.PathStyle)
		}
	}
	k.fail(side+" bucket", text.OneLine(err.Error()), fix)
	return nil
}

// checkSource lists and reads one object under the key prefix; it returns that key.
func checkSource(ctx context.Context, k *checker, cl *storage.Client, sc *storage.Config) string {
	key, err := cl.FirstKey(ctx, "")
	if err != nil {
		k.fail("source list", text.OneLine(err.Error()), "grant s3:ListBucket on the source bucket")
		return ""
	}
	if key == "" {
		fix := ""
		if sc.KeyPrefix != "" {
			fix = "[s3.source]\nkey_prefix =    ; nothing under " + sc.KeyPrefix + "/"
		}
		k.warn("source list", "no object under the key prefix; is this the bucket Mastodon writes to?", fix)
		return ""
	}
	k.ok("source list", "first key "+key)
	body, _, err := cl.Get(ctx, key)
	if err != nil {
		k.fail("source get", text.OneLine(err.Error()), "grant s3:GetObject on the source bucket")
		return key
	}
	_, err = io.CopyN(io.Discard, body, 1)
	body.Close()
	if err != nil && err != io.EOF {
		k.fail("source get", text.OneLine(err.Error()), "")
		return key
	}
	k.ok("source get", "read "+key)
	return key
}

// checkDestination puts (with the configured ACL), reads and deletes a temporary object, and
// tries the SDK's checksum headers.
func checkDestination(ctx context.Context, k *checker, cl *storage.Client, dc *storage.Config, aclPolicy string) {
	key := storage.TempKey("put")
	body := []byte("s3sync check\n")
	err := cl.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "text/plain", CacheControl: "no-store"})
	acl := dc.ACL
	if acl == "" {
		acl = "none"
	}
	if err != nil {
		code, _ := storage.Code(err)
		switch {
		case dc.ACL != "" && (code == "AccessControlListNotSupported" || code == "NotImplemented" || code == "InvalidArgument"):
			k.fail("destination put", fmt.Sprintf("refused with acl %s: %s", acl, text.OneLine(err.Error())), "[s3.destination]\nacl =    ; send no ACL (R2, B2, buckets with ACLs disabled)")
		default:
			k.fail("destination put", text.OneLine(err.Error()), "grant s3:PutObject (and s3:PutObjectAcl for acl) on the destination bucket")
		}
		return
	}
	k.ok("destination put", "temporary object written with acl "+acl)
	if rb, _, err := cl.Get(ctx, key); err != nil {
		k.warn("destination get", text.OneLine(err.Error()), "")
	} else {
		rb.Close()
		k.ok("destination get", "read back")
	}
	checkPublicRead(ctx, k, cl, dc, key, aclPolicy)
	if err := cl.Delete(ctx, key); err != nil {
		k.warn("destination delete", text.OneLine(err.Error())+"; remove "+key+" by hand", "")
	} else {
		k.ok("destination delete", "temporary object removed")
	}
	if err := cl.ProbeChecksum(ctx); err != nil {
		k.ok("checksum headers", "the destination refuses the SDK's CRC32 headers ("+text.OneLine(err.Error())+"); s3sync does not send them")
	} else {
		k.ok("checksum headers", "accepted (s3sync sends Content-MD5 only)")
	}
}

// checkUploads lists the incomplete multipart uploads under Mastodon's prefixes at the
// destination: parts stored and billed that belong to no object. The checkpoint, when it can
// be read, says which a copy of s3sync started (a running copy holds it: then none is known).
func checkUploads(ctx context.Context, g *globals, k *checker, dst *storage.Client, cfg *Config) {
	var log engine.UploadLog
	if db, _, err := peekCheckpoint(cfg.checkpointPath(g.checkpoint), 200*time.Millisecond); err == nil && db != nil {
		defer db.Close()
		log = db
	}
	ups, err := engine.IncompleteUploads(ctx, dst, log)
	if err != nil {
		k.warn("destination uploads", "could not list incomplete multipart uploads: "+text.OneLine(err.Error()), "")
		return
	}
	if len(ups) == 0 {
		k.ok("destination uploads", "no incomplete multipart upload under Mastodon's prefixes")
		return
	}
	recorded := 0
	for _, u := range ups {
		if u.Recorded {
			recorded++
		}
	}
	k.warn("destination uploads", fmt.Sprintf("%d incomplete multipart upload(s) under Mastodon's prefixes, the oldest started %s; %d of them started by s3sync (per the checkpoint): their parts are stored and billed",
		len(ups), engine.OldestUpload(ups).UTC().Format(time.RFC3339), recorded),
		"; run: s3sync cleanup-uploads   (copy --resume also aborts the ones s3sync started)")
}

// publicACL reports whether objects written with acl are meant for everyone to read: a
// public canned ACL, or none at all (the bucket's policy decides, as for Mastodon with an
// empty S3_PERMISSION).
func publicACL(acl string) bool {
	return acl == "" || acl == "public-read" || acl == "public-read-write"
}

// checkPublicRead fetches the temporary object key anonymously from the public URL, as a
// visitor's browser would, when the ACL makes objects public: a destination that takes
// public-read and ignores it, or a bucket without a public policy, fails here rather than
// after the switch. Under acl_policy = mastodon it also writes a private object and checks that
// visitors cannot read it (the media of suspended accounts).
func checkPublicRead(ctx context.Context, k *checker, cl *storage.Client, dc *storage.Config, key, aclPolicy string) {
	if !publicACL(dc.ACL) {
		k.ok("public read", fmt.Sprintf("not checked: objects are written with acl %s, not for visitors", dc.ACL))
		return
	}
	fix := "[s3.destination]\npublic_url = https://<Mastodon's S3_ALIAS_HOST or your CDN>   ; where visitors read the media\n" +
		"; or give the bucket a policy that lets anyone read its objects (s3:GetObject for \"*\")"
	r, err := cl.PublicGet(ctx, key)
	switch {
	case err != nil:
		k.fail("public read", text.OneLine(err.Error())+": visitors could not reach the media", fix)
		return
	case r.Status != http.StatusOK:
		why := "the destination did not make it public"
		if dc.ACL != "" {
			why = "the destination took acl " + dc.ACL + " but did not make the object public"
		}
		k.fail("public read", fmt.Sprintf("anonymous GET %s answered HTTP %d: %s; every media URL would be broken after the switch",
			cl.PublicURL(key), r.Status, why), fix)
		return
	}
	k.ok("public read", "anonymous GET "+cl.PublicURL(key)+" answered 200")
	if aclPolicy != aclPolicyMastodon || dc.ACL == "" {
		return
	}
	priv := storage.TempKey("private")
	body := []byte("s3sync check: must not be public\n")
	if err := cl.Put(ctx, priv, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "text/plain", CacheControl: "no-store", ACL: "private"}); err != nil {
		k.warn("private read", "could not write a private object: "+text.OneLine(err.Error()), "")
		return
	}
	defer cl.Delete(ctx, priv)
	r, err = cl.PublicGet(ctx, priv)
	switch {
	case err != nil:
		k.warn("private read", text.OneLine(err.Error()), "")
	case r.Status == http.StatusOK:
		k.fail("private read", "an object written with acl private is readable by anyone at "+cl.PublicURL(priv)+
			": the media of suspended accounts would stay visible (acl_policy = mastodon)",
			"; remove the bucket policy that makes every object public and rely on object ACLs,\n; or set acl_policy = fixed if your provider has no object ACLs")
	default:
		k.ok("private read", fmt.Sprintf("an object written with acl private is not public (HTTP %d)", r.Status))
	}
}

// checkDatabase connects (through the tunnel when configured) and counts each kind's rows.
func checkDatabase(ctx context.Context, g *globals, k *checker, cfg *Config) {
	reader, closeReader, err := openCatalog(ctx, g, cfg)
	if err != nil {
		k.fail("database", text.OneLine(err.Error()), "[pg.database]\nhost = …\nport = 5432\nuser = …\ndatabase = mastodon_production")
		return
	}
	defer closeReader()
	k.ok("database", "connected")
	checkVersion(ctx, k, reader)
	var found []string
	for _, kind := range catalog.AllKinds {
		n, err := reader.Count(ctx, kind)
		switch {
		case err == nil:
			found = append(found, fmt.Sprintf("%s %d", kind, n))
		case catalog.IsConnectionError(err):
			k.fail("database tables", text.OneLine(err.Error()), "")
			return
		}
	}
	if len(found) == 0 {
		k.fail("database tables", "none of Mastodon's tables found: is this the Mastodon database?", "[pg.database]\ndatabase = mastodon_production")
		return
	}
	k.ok("database tables", strings.Join(found, ", "))
}

// printCheck prints one line per item, then the config lines to fix what failed; an error
// (exit 1) when an item failed.
func printCheck(w io.Writer, k *checker) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tVERDICT\tDETAIL")
	failed := 0
	for _, it := range k.items {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", it.name, it.verdict, it.detail)
		if it.verdict == "FAIL" {
			failed++
		}
	}
	tw.Flush()
	for _, it := range k.items {
		if it.fix != "" {
			fmt.Fprintf(w, "\nto fix %s:\n  %s\n", it.name, strings.ReplaceAll(it.fix, "\n", "\n  "))
		}
	}
	if failed > 0 {
		return fmt.Errorf("check: %d item(s) failed", failed)
	}
	fmt.Fprintln(w, "\nall checks passed")
	return nil
}

// checkVersion is check's "database version" item: the Mastodon release the latest applied
// migration belongs to. An unknown version is a warning, not a failure: plan still reads
// whatever columns the tables have.
func checkVersion(ctx context.Context, k *checker, reader *catalog.Reader) {
	v, err := reader.Version(ctx)
	switch {
	case err != nil:
		k.warn("database version", text.OneLine(err.Error()), "")
	case v.Mastodon == "":
		k.warn("database version", v.String()+"; plan reads the columns the tables have", "")
	default:
		k.ok("database version", v.String())
	}
}
