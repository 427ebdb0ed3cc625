// Package text holds the two string rules every s3sync message follows: one line each, and no
// secret in it.
package text

import (
	"net/url"
	"strings"
)

// OneLine collapses every run of white space in s (newlines included) to one space and trims
// the ends, so that a message from a server, a database or a config file cannot break a log
// line, a table or a CSV field into several.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Redact replaces every occurrence of each non-empty secret in s with "[redacted]". Call it
// before OneLine: a secret holding white space no longer matches once flattened.
func Redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// Clip shortens s to at most n bytes, marking the cut with "...", for messages a remote party
// controls the length of.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// RedactURL returns an endpoint URL fit for messages: without user information, query or
// fragment, which may hold secrets, even when it does not parse. A URL with none of them comes
// back as written.
func RedactURL(e string) string {
	u, err := url.Parse(e)
	if err == nil && u.Opaque == "" { // "user:pass@host" parses as scheme "user", opaque "pass@host"
		if u.User == nil && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" {
			return e
		}
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		return u.String()
	}
	if i := strings.LastIndex(e, "@"); i >= 0 {
		if j := strings.Index(e, "//"); j >= 0 && j < i {
			e = e[:j+2] + "…@" + e[i+1:]
		} else {
			e = "…@" + e[i+1:]
		}
	}
	if i := strings.IndexAny(e, "?#"); i >= 0 {
		e = e[:i]
	}
	return e
}

// HasUserInfo reports whether a URL as written names a user or password, also when it does
// not parse or has no scheme (a password may hold any character).
func HasUserInfo(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err == nil && u.Opaque == "" {
		return u.User != nil
	}
	authority := endpoint
	if _, rest, ok := strings.Cut(endpoint, "//"); ok {
		authority = rest
	}
	// The authority ends at the first /, ? or # after the last @: a password may hold those.
	return strings.Contains(authority, "@")
}
