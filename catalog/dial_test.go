package catalog_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/s3sync/s3sync/catalog"
)

// dialError is a DialFunc's error that says whether reconnecting may help, as an SSH
// tunnel's errors do.
type dialError struct{ lost bool }

func (e dialError) Error() string         { return "dial failed" }
func (e dialError) ConnectionError() bool { return e.lost }

// A DialFunc's error decides by its ConnectionError method whether Open failed for a lost
// connection (worth a Reconnect) or for good; no server is needed, the dial never succeeds.
func TestDialFuncConnectionError(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"lost":             {dialError{lost: true}, true},
		"refused for good": {dialError{lost: false}, false},
		"says nothing":     {errors.New("dial failed"), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := catalog.IsConnectionError(tc.err); got != tc.want {
				t.Errorf("IsConnectionError(the dial error) = %v, want %v", got, tc.want)
			}
			cfg := catalog.DBConfig{Host: "db.invalid", Port: 5432, User: "u", Database: "d", SSLMode: "disable",
				DialFunc: func(context.Context, string, string) (net.Conn, error) { return nil, tc.err }}
			_, err := catalog.Open(context.Background(), cfg)
			if err == nil {
				t.Fatal("Open succeeded with a failing DialFunc")
			}
			if got := catalog.IsConnectionError(err); got != tc.want {
				t.Errorf("IsConnectionError(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}
