package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// apiErr builds the error chain the SDK returns for an S3 error response.
func apiErr(status int, code, msg string) error {
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: "GetObject",
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      &smithy.GenericAPIError{Code: code, Message: msg},
			},
			RequestID: "REQ123",
		},
	}
}

// sendErr builds the error chain the SDK returns when no response arrived.
func sendErr(err error) error {
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: "PutObject",
		Err:           &smithyhttp.RequestSendError{Err: &url.Error{Op: "Put", URL: "http://127.0.0.1:7070/b/k", Err: err}},
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// httpTimeout mimics net/http's "timeout awaiting response headers", which also says it is
// context.DeadlineExceeded.
type httpTimeout struct{}

func (httpTimeout) Error() string        { return "net/http: timeout awaiting response headers" }
func (httpTimeout) Timeout() bool        { return true }
func (httpTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

func TestIsRetryable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"503 SlowDown", apiErr(503, "SlowDown", "Please reduce your request rate."), true},
		{"503 ServiceUnavailable", apiErr(503, "ServiceUnavailable", ""), true},
		{"500 InternalError", apiErr(500, "InternalError", "We encountered an internal error."), true},
		{"502 no code", apiErr(502, "", ""), true},
		{"504", apiErr(504, "GatewayTimeout", ""), true},
		{"429", apiErr(429, "TooManyRequests", ""), true},
		{"408", apiErr(408, "", ""), true},
		{"400 RequestTimeout", apiErr(400, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period."), true},
		{"400 BadDigest", apiErr(400, "BadDigest", ""), false},
		{"400 InvalidArgument", apiErr(400, "InvalidArgument", ""), false},
		{"403 AccessDenied", apiErr(403, "AccessDenied", "Access Denied"), false},
		{"404 NoSuchKey", apiErr(404, "NoSuchKey", ""), false},
		{"404 NoSuchBucket", apiErr(404, "NoSuchBucket", ""), false},
		{"409", apiErr(409, "OperationAborted", ""), false},
		{"501 NotImplemented", apiErr(501, "NotImplemented", ""), false},
		{"connection reset", sendErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"connection refused", sendErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"broken pipe", sendErr(&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}), true},
		{"unexpected EOF", sendErr(io.ErrUnexpectedEOF), true},
		{"EOF before response", sendErr(io.EOF), true},
		{"body read unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), true},
		{"i/o timeout", sendErr(&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}), true},
		{"response header timeout", sendErr(httpTimeout{}), true},
		{"dns temporary", sendErr(&net.DNSError{Err: "server misbehaving", Name: "s3.example.com", IsTemporary: true}), true},
		{"dns not found", sendErr(&net.DNSError{Err: "no such host", Name: "s3.example.com", IsNotFound: true}), false},
		{"context canceled", sendErr(context.Canceled), false},
		{"context deadline", sendErr(context.DeadlineExceeded), false},
		{"bare context canceled", context.Canceled, false},
		{"wrapped deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"size mismatch", fmt.Errorf("%w: body ended after 1 of 2 bytes", ErrSizeMismatch), false},
		{"checksum mismatch", ErrChecksumMismatch, false},
		{"x509", sendErr(errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")), false},
		{"plain", errors.New("something else"), false},
		{"string reset", errors.New("write: connection reset by peer"), true},
		{"cancelled caller, transport timeout", &Error{Op: "get", Err: sendErr(timeoutErr{}), ctxDone: true}, false},
		{"our Error, 503", &Error{Op: "get", Code: "SlowDown", Status: 503, Err: apiErr(503, "SlowDown", "")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsRetryable(tc.err); got != tc.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// IsRetryableStatus judges a plain HTTP answer as IsRetryable judges an S3 error's status.
func TestIsRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{
		200: false, 301: false, 400: false, 403: false, 404: false, 501: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 504: true,
	} {
		if got := IsRetryableStatus(status); got != want {
			t.Errorf("IsRetryableStatus(%d) = %v, want %v", status, got, want)
		}
		if got := IsRetryable(apiErr(status, "", "")); got != want && status >= 300 {
			t.Errorf("IsRetryable(HTTP %d) = %v, IsRetryableStatus says %v", status, got, want)
		}
	}
}

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		err                            error
		notFound, denied, noSuchBucket bool
	}{
		{"NoSuchKey", apiErr(404, "NoSuchKey", ""), true, false, false},
		{"HEAD NotFound", apiErr(404, "NotFound", "Not Found"), true, false, false},
		{"404 without code", apiErr(404, "", ""), true, false, false},
		{"NoSuchBucket", apiErr(404, "NoSuchBucket", ""), false, false, true},
		{"NoSuchUpload", apiErr(404, "NoSuchUpload", ""), false, false, false},
		{"os.ErrNotExist", fmt.Errorf("x: %w", os.ErrNotExist), true, false, false},
		{"AccessDenied", apiErr(403, "AccessDenied", "Access Denied"), false, true, false},
		{"HEAD Forbidden", apiErr(403, "Forbidden", "Forbidden"), false, true, false},
		{"InvalidAccessKeyId", apiErr(403, "InvalidAccessKeyId", ""), false, true, false},
		{"SignatureDoesNotMatch", apiErr(403, "SignatureDoesNotMatch", ""), false, true, false},
		{"503", apiErr(503, "SlowDown", ""), false, false, false},
		{"reset", sendErr(syscall.ECONNRESET), false, false, false},
		{"nil", nil, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsNotFound(tc.err); got != tc.notFound {
				t.Errorf("IsNotFound = %v, want %v", got, tc.notFound)
			}
			if got := IsAccessDenied(tc.err); got != tc.denied {
				t.Errorf("IsAccessDenied = %v, want %v", got, tc.denied)
			}
			if got := IsNoSuchBucket(tc.err); got != tc.noSuchBucket {
				t.Errorf("IsNoSuchBucket = %v, want %v", got, tc.noSuchBucket)
			}
		})
	}
}

func TestIsCorrupted(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apiErr(400, "BadDigest", ""), true},
		{apiErr(400, "InvalidDigest", ""), true},
		{fmt.Errorf("put: %w", ErrSizeMismatch), true},
		{fmt.Errorf("put: %w", ErrChecksumMismatch), true},
		{apiErr(503, "SlowDown", ""), false},
		{apiErr(403, "AccessDenied", ""), false},
		{nil, false},
	} {
		if got := IsCorrupted(tc.err); got != tc.want {
			t.Errorf("IsCorrupted(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestIsBucketWide(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apiErr(404, "NoSuchBucket", ""), true},
		{apiErr(403, "InvalidAccessKeyId", ""), true},
		{apiErr(403, "SignatureDoesNotMatch", ""), true},
		{apiErr(400, "AccessControlListNotSupported", ""), true},
		{apiErr(301, "PermanentRedirect", ""), true},
		{apiErr(403, "AccessDenied", ""), false}, // may be one object's policy
		{apiErr(404, "NoSuchKey", ""), false},
		{apiErr(503, "SlowDown", ""), false},
		{sendErr(syscall.ECONNRESET), false},
		{nil, false},
	} {
		if got := IsBucketWide(tc.err); got != tc.want {
			t.Errorf("IsBucketWide(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	c, err := New(Config{Endpoint: "https://s3.example.com", Bucket: "media", AccessKey: "AKIDSECRETISH", SecretKey: "very-secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"not found", c.newError(ctx, "get", "a/b.png", apiErr(404, "NoSuchKey", "The specified key does not exist.")),
			"s3 get s3://media/a/b.png: NoSuchKey (HTTP 404): The specified key does not exist."},
		{"head not found", c.newError(ctx, "head", "a/b.png", apiErr(404, "NotFound", "Not Found")),
			"s3 head s3://media/a/b.png: NotFound (HTTP 404)"},
		{"get denied", c.newError(ctx, "get", "a/b.png", apiErr(403, "AccessDenied", "Access Denied")),
			`s3 get s3://media/a/b.png: AccessDenied (HTTP 403): Access Denied; bucket "media" at https://s3.example.com refused access (a 403 can also mean the object is absent and the key lacks s3:ListBucket)`},
		{"put denied", c.newError(ctx, "put", "a/b.png", apiErr(403, "AccessDenied", "Access Denied")),
			`s3 put s3://media/a/b.png: AccessDenied (HTTP 403): Access Denied; bucket "media" at https://s3.example.com refused access`},
		{"multi-line message", c.newError(ctx, "get", "k", apiErr(500, "InternalError", "We encountered\n  an internal error.\n")),
			"s3 get s3://media/k: InternalError (HTTP 500): We encountered an internal error."},
		{"status only", c.newError(ctx, "get", "k", apiErr(502, "", "")),
			"s3 get s3://media/k: BadGateway (HTTP 502)"},
		{"reset", c.newError(ctx, "put", "k", sendErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)})),
			"s3 put s3://media/k: read tcp: read: connection reset by peer"},
		{"cancelled", c.newError(ctx, "get", "k", sendErr(context.Canceled)),
			"s3 get s3://media/k: context canceled"},
		{"body error", c.newError(ctx, "put", "k", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF)),
			"s3 put s3://media/k: read body: unexpected EOF"},
		{"bucket", c.newError(ctx, "check bucket", "", apiErr(403, "AccessDenied", "")),
			`s3 check bucket s3://media: AccessDenied (HTTP 403); bucket "media" at https://s3.example.com refused access`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.err.Error()
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if strings.Contains(got, "REQ123") || strings.Contains(got, "very-secret") || strings.Contains(got, "AKIDSECRETISH") {
				t.Errorf("message leaks request id or credentials: %s", got)
			}
		})
	}
	if e := c.newError(ctx, "get", "k", apiErr(404, "NoSuchKey", "")); !errors.Is(e, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false", e)
	}
	if e := c.newError(ctx, "get", "k", apiErr(404, "NoSuchBucket", "")); errors.Is(e, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = true for a missing bucket", e)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if e := c.newError(cctx, "get", "k", sendErr(timeoutErr{})); IsRetryable(e) {
		t.Errorf("IsRetryable(%v) = true although the caller's context is done", e)
	}
}

func TestNewValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string // "" = valid
	}{
		{"minimal", Config{Bucket: "b"}, ""},
		{"endpoint", Config{Bucket: "b", Endpoint: "http://127.0.0.1:7070", AccessKey: "a", SecretKey: "s"}, ""},
		{"endpoint with slash", Config{Bucket: "b", Endpoint: "https://s3.eu-central-1.wasabisys.com/"}, ""},
		{"no bucket", Config{Endpoint: "http://x"}, "bucket"},
		{"bucket with slash", Config{Bucket: "b/c"}, "bucket"},
		{"no scheme", Config{Bucket: "b", Endpoint: "s3.example.com"}, "endpoint"},
		{"ftp", Config{Bucket: "b", Endpoint: "ftp://s3.example.com"}, "endpoint"},
		{"no host", Config{Bucket: "b", Endpoint: "https://"}, "endpoint"},
		{"garbage", Config{Bucket: "b", Endpoint: "http://[::1"}, "endpoint"},
		{"query", Config{Bucket: "b", Endpoint: "https://s3.example.com?x=1"}, "endpoint"},
		{"user info", Config{Bucket: "b", Endpoint: "https://key:hunter2@s3.example.com"}, "endpoint"},
		{"only access key", Config{Bucket: "b", AccessKey: "a"}, "secret key"},
		{"only secret key", Config{Bucket: "b", SecretKey: "hunter2"}, "access key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("New succeeded, want an error naming %q", tc.wantErr)
			case err != nil:
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not name %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q leaks the secret", err)
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Bucket: "media", Endpoint: "https://s3.example.com/", KeyPrefix: "/masto/", AccessKey: "AKID", SecretKey: "hunter2"}, "s3://media/masto at https://s3.example.com"},
		{Config{Bucket: "media", Region: "eu-west-1"}, "s3://media at AWS eu-west-1"},
		{Config{Bucket: "media"}, "s3://media at AWS us-east-1"},
	} {
		c, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct{ prefix, key, want string }{
		{"", "a/b.png", "a/b.png"},
		{"masto", "a/b.png", "masto/a/b.png"},
		{"/masto/", "a/b.png", "masto/a/b.png"},
		{"x/y/", "a", "x/y/a"},
	} {
		c, err := New(Config{Bucket: "b", KeyPrefix: tc.prefix})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Key(tc.key); got != tc.want {
			t.Errorf("prefix %q: Key(%q) = %q, want %q", tc.prefix, tc.key, got, tc.want)
		}
	}
}

// TestExactReader covers the size checks without a server.
func TestExactReader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		size    int64
		wantErr bool
	}{
		{"exact", "hello", 5, false},
		{"empty", "", 0, false},
		{"short", "hell", 5, true},
		{"long", "hello!", 5, true},
		{"long from empty", "x", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &exactReader{r: strings.NewReader(tc.data), size: tc.size, remaining: tc.size}
			got, err := io.ReadAll(r)
			if tc.size == 0 {
				err = r.checkEmpty()
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSizeMismatch) {
				t.Errorf("err = %v, want ErrSizeMismatch", err)
			}
			if tc.name == "long" && len(got) == int(tc.size) {
				t.Errorf("a too-long body handed out all %d bytes before failing", len(got))
			}
			if !tc.wantErr && string(got) != tc.data {
				t.Errorf("read %q, want %q", got, tc.data)
			}
			if serr := r.stop(); (serr != nil) != tc.wantErr {
				t.Errorf("stop() = %v", serr)
			}
			if _, err := r.Read(make([]byte, 1)); !errors.Is(err, errStopped) {
				t.Errorf("Read after stop = %v, want errStopped", err)
			}
		})
	}
}
