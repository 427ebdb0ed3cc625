// Package text holds the two string rules every s3sync message follows: one line each, and no
// secret in it.
package text

import "strings"

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
