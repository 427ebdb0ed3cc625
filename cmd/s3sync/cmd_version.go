package main

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is the release this binary is, stamped by the release build (scripts/release.sh):
//
//	go build -ldflags "-X main.version=1.2.3" ./cmd/s3sync
//
// A build without the stamp says "dev", or the module version `go install …@v1.2.3` records.
var version = "dev"

// versionInfo returns the release (version, else the module version of `go install`), the
// commit the binary was built from (empty when the build recorded none; "-dirty" when the
// work tree had changes) and the Go version that built it, from the binary's build info.
func versionInfo() (ver, commit, goVersion string) {
	ver, goVersion = version, runtime.Version()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ver, "", goVersion
	}
	if bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	if ver == "dev" && isRelease(bi.Main.Version) {
		ver = bi.Main.Version // go install github.com/s3sync/s3sync/cmd/s3sync@v1.2.3
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(commit) > 7 {
		commit = commit[:7]
	}
	if commit != "" && modified {
		commit += "-dirty"
	}
	return ver, commit, goVersion
}

// pseudoVersion matches the pseudo-versions Go gives an untagged commit,
// v0.0.0-20260102150405-abcdef123456 (go build stamps one since Go 1.24).
var pseudoVersion = regexp.MustCompile(`[0-9]{14}-[0-9a-f]{12}`)

// isRelease reports whether a module version from the build info names a tagged release.
func isRelease(v string) bool {
	return strings.HasPrefix(v, "v") && !strings.Contains(v, "+") && !pseudoVersion.MatchString(v)
}

// versionLine is what `s3sync version` and `s3sync --version` print, e.g.
// "s3sync 1.2.3 (commit abc1234, go1.26.8 linux/amd64)".
func versionLine() string {
	ver, commit, goVersion := versionInfo()
	build := goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
	if commit != "" {
		build = "commit " + commit + ", " + build
	}
	return fmt.Sprintf("s3sync %s (%s)", ver, build)
}

// versionString is the App's Version: the version line without the program's name.
func versionString() string {
	ver, _, _ := versionInfo()
	return ver
}

func newVersionCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, the commit and the Go version s3sync was built with",
		Description: "Prints one line, the same as `s3sync --version`, e.g.\n" +
			"  s3sync 1.2.3 (commit abc1234, go1.26.8 linux/amd64)\n" +
			"Example: s3sync version",
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("s3sync version", "version takes no arguments, got %q", c.Args().First())
			}
			_, err := fmt.Fprintln(g.stdout, versionLine())
			return err
		},
	}
}
