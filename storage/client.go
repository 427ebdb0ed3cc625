// Package storage is s3sync's S3 client layer: streamed get and put (multipart above
// MultipartThreshold), head, delete, a bucket check and error classification.
//
// It works with any S3-compatible provider (AWS, R2, B2, Wasabi, MinIO, Garage, Ceph...). It never
// retries: the engine owns the retry policy and asks IsRetryable, so the SDK's own retryer is
// disabled. A Client is built from Config alone; nothing is read from AWS_* environment variables
// or ~/.aws files.
package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/time/rate"
)

// DefaultRegion is the region used when Config.Region is empty.
const DefaultRegion = "us-east-1"

// DefaultMaxConns is the number of idle HTTP connections per host kept when Config.MaxConns is 0.
const DefaultMaxConns = 64

// DefaultIOTimeout is the idle I/O timeout used when Config.IOTimeout is 0.
const DefaultIOTimeout = 2 * time.Minute

// Config describes one bucket at one S3-compatible endpoint. It is the only input of New.
type Config struct {
	// Endpoint is the service URL, e.g. https://s3.eu-central-1.wasabisys.com or
	// http://127.0.0.1:7070; "" means AWS's own endpoint for Region.
	Endpoint string
	// Region is the signing region; "" means DefaultRegion.
	Region string
	// Bucket is the bucket name; required.
	Bucket string
	// AccessKey and SecretKey are static credentials; both empty means anonymous requests.
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of bucket.endpoint/key.
	PathStyle bool
	// KeyPrefix is Mastodon's S3_KEY_PREFIX: when set, every key is KeyPrefix + "/" + key
	// (surrounding slashes trimmed). "" means keys are used as given.
	KeyPrefix string
	// ACL is the canned ACL sent on PUT, e.g. "public-read"; "" sends none.
	ACL string
	// PublicURL is where visitors read the bucket's objects: Mastodon's S3_ALIAS_HOST or CDN
	// URL, e.g. https://media.example.org; an object's URL is PublicURL + "/" + its full key.
	// "" means the bucket's own URL (see Client.PublicURL).
	PublicURL string
	// MaxConns is the number of idle HTTP connections per host to keep; 0 means DefaultMaxConns.
	MaxConns int
	// IOTimeout fails a request whose connection neither reads nor writes a byte for this long
	// (connect, response headers and body transfer alike); 0 means DefaultIOTimeout. Such a
	// failure is retryable.
	IOTimeout time.Duration
	// Observer, when set, is told about every request (for metrics); nil means none.
	Observer Observer
	// Limiter, when set, is waited on before every request (--max-rps); nil means no limit.
	Limiter *rate.Limiter
}

// Client reads and writes objects of one bucket. It is safe for concurrent use.
type Client struct {
	s3       *s3.Client
	http     *http.Client
	bucket   string
	prefix   string
	endpoint string // for messages: the configured endpoint or "AWS <region>"
	acl      string
	public   string // base URL visitors read objects from, without a trailing slash
}

// New builds a client from cfg only, without network I/O. It returns an error naming the field
// when Bucket is empty, Endpoint is not an http(s) URL with a host, or only one of AccessKey and
// SecretKey is set.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.Bucket) == "" {
		return nil, errors.New("storage: bucket: must not be empty")
	}
	if strings.ContainsAny(cfg.Bucket, "/ ") {
		return nil, fmt.Errorf("storage: bucket %q: must be a bare bucket name without slashes or spaces", cfg.Bucket)
	}
	endpoint, err := checkEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("storage: access key and secret key: set both or neither")
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	ioTimeout := cfg.IOTimeout
	if ioTimeout <= 0 {
		ioTimeout = DefaultIOTimeout
	}

	var creds aws.CredentialsProvider = aws.AnonymousCredentials{}
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")
	}
	httpClient := &http.Client{
		Transport: newTransport(maxConns, ioTimeout),
		// Never follow a redirect: the SDK would read the other host's body as the object's
		// (and Go forwards the signed Authorization header to the same host on another port).
		// The 3xx answer itself becomes the error; see Error.Location.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	opts := s3.Options{
		Region:       region,
		Credentials:  creds,
		HTTPClient:   httpClient,
		UsePathStyle: cfg.PathStyle,
		// The engine owns retries. A retrying SDK would hide throttling behind extra requests and,
		// with its client-side retry quota, turn a burst of 503s into "retry quota exceeded".
		Retryer: aws.NopRetryer{},
		// R2, B2 and older MinIO reject the CRC32 checksum headers the SDK sends by default since
		// early 2025: https://github.com/aws/aws-sdk-go-v2/discussions/2960
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
	}
	if cfg.Observer != nil {
		opts.APIOptions = append(opts.APIOptions, observe(cfg.Observer))
	}
	if cfg.Limiter != nil {
		opts.APIOptions = append(opts.APIOptions, limitRequests(cfg.Limiter))
	}
	c := &Client{
		s3:       s3.New(opts),
		http:     httpClient,
		bucket:   cfg.Bucket,
		prefix:   strings.Trim(cfg.KeyPrefix, "/"),
		endpoint: endpoint,
		acl:      cfg.ACL,
	}
	if endpoint == "" {
		c.endpoint = "AWS " + region
	}
	c.public, err = publicBase(cfg, endpoint, region)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// checkEndpoint validates an endpoint URL and returns it without a trailing slash. Its errors
// never echo user information (a URL may carry a password).
func checkEndpoint(endpoint string) (string, error) {
	if endpoint == "" {
		return "", nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", errors.New("storage: endpoint: not a valid URL (want e.g. https://s3.example.com)")
	}
	if u.User != nil {
		return "", errors.New("storage: endpoint: must not contain user information; set the access key and secret key instead")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("storage: endpoint: scheme %q must be http or https", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", errors.New("storage: endpoint: has no host (want e.g. https://s3.example.com)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("storage: endpoint %s://%s: must not have a query or fragment", u.Scheme, u.Host)
	}
	return strings.TrimRight(endpoint, "/"), nil
}

// String describes the client as "s3://bucket/prefix at endpoint"; it never contains a secret.
func (c *Client) String() string {
	return fmt.Sprintf("s3://%s at %s", path(c.bucket, c.prefix), c.endpoint)
}

// Bucket returns the configured bucket name.
func (c *Client) Bucket() string { return c.bucket }

// Key returns the full object key for key: KeyPrefix + "/" + key, or key when there is no prefix.
func (c *Client) Key(key string) string {
	if c.prefix == "" {
		return key
	}
	return c.prefix + "/" + key
}

// Close releases idle connections. The client stays usable.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

func path(bucket, key string) string {
	if key == "" {
		return bucket
	}
	return bucket + "/" + key
}

// newTransport returns an HTTP/1.1 keep-alive transport using the system's root certificates
// (AWS_CA_BUNDLE is deliberately not consulted).
func newTransport(maxConns int, ioTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &timeoutConn{Conn: conn, timeout: ioTimeout}, nil
		},
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: ioTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		// Object bodies are stored bytes; never let the transport gunzip them.
		DisableCompression: true,
		// HTTP/1.1 only: one stream per connection keeps large transfers from starving each other.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// timeoutConn fails a read or write that makes no progress for timeout, so a stalled server
// cannot hang a worker forever. Progress either way extends both deadlines (as rclone's
// fshttp.timeoutConn does), so the transport's pending response read does not expire during a
// long upload.
//
// It also makes an upload that breaks off fail visibly at the server: see abortiveClose.
type timeoutConn struct {
	net.Conn
	timeout time.Duration
	// sending is true while a request whose body must arrive whole is being written (set by
	// abortiveClose's trace).
	sending atomic.Bool
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	return c.do(c.Conn.Read, p)
}

func (c *timeoutConn) Write(p []byte) (int, error) {
	return c.do(c.Conn.Write, p)
}

func (c *timeoutConn) do(f func([]byte) (int, error), p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	n, err := f(p)
	if n > 0 && err == nil {
		err = c.Conn.SetDeadline(time.Now().Add(c.timeout))
	}
	return n, err
}

// Close resets the connection (TCP RST instead of FIN) when a request body is still being sent.
func (c *timeoutConn) Close() error {
	if c.sending.Load() {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	return c.Conn.Close()
}

// abortiveClose returns ctx with an HTTP trace that marks the connection of each request made
// with it as sending until the whole request was written. If the transport closes the connection
// before that (the body failed or was too long, ctx was cancelled, a write timed out), the close
// is a TCP reset.
//
// Why: a server that reads a fixed-length body may take an orderly close (FIN) in the middle of
// the body for its end and store the truncated object as complete. Versity S3 Gateway 1.8.0 does
// this for UNSIGNED-PAYLOAD bodies (https://github.com/versity/versitygw/issues/2414); a reset is
// an error to every server.
func abortiveClose(ctx context.Context) context.Context {
	var conn atomic.Pointer[timeoutConn]
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			c := info.Conn
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if tc, ok := c.(*timeoutConn); ok {
				tc.sending.Store(true)
				conn.Store(tc)
			}
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if tc := conn.Load(); info.Err == nil && tc != nil {
				tc.sending.Store(false)
			}
		},
	})
}
