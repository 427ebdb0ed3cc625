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

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3sync/s3sync/internal/text"
)

// ErrSizeMismatch is returned (wrapped) by Put when the body yields fewer or more bytes than the
// size it was given. Nothing is stored in that case. It is not retryable.
var ErrSizeMismatch = errors.New("body size does not match")

// ErrBodyLength is returned (wrapped) by Get, and by reads of its body, when a GET answer has
// no Content-Length or its body ends before, or runs past, the Content-Length. It is
// retryable: a fresh GET may bring the whole object.
var ErrBodyLength = errors.New("body length does not match Content-Length")

// ErrChecksumMismatch is returned (wrapped) by Put when PutOptions.ContentMD5 is set and the body
// of a multipart upload does not match it. The upload is aborted. It is not retryable.
var ErrChecksumMismatch = errors.New("body MD5 does not match Content-MD5")

// Error is the error returned by every Client method. Its message is one line, starts with
// "s3 <op> s3://bucket/key: " and never contains a secret.
type Error struct {
	Op       string // "get", "head", "put", "delete", "check bucket", "read" (a GET body)
	Bucket   string
	Key      string // full key including KeyPrefix; "" for bucket operations
	Endpoint string // endpoint URL, or "AWS <region>"
	Step     string // the failed request of a multi-request operation, e.g. "upload part 2 of 3"
	Code     string // S3 error code such as "NoSuchKey"; "" when no S3 error response arrived
	Status   int    // HTTP status; 0 when no response arrived
	Message  string // the server's message or the transport error, one line
	Note     string // more to say, e.g. that aborting a multipart upload failed too
	Location string // a redirect's target (3xx), without user information or query; never followed
	Region   string // the region a 301 names in x-amz-bucket-region, if any
	Err      error  // the underlying error

	ctxDone bool // the caller's context was done when the operation failed
}

// Error returns e.g. "s3 get s3://media/a.png: NoSuchKey (HTTP 404): The specified key does not exist.".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 %s s3://%s: ", e.Op, path(e.Bucket, e.Key))
	if e.Step != "" {
		b.WriteString(e.Step)
		b.WriteString(": ")
	}
	b.WriteString(e.detail())
	if e.Note != "" {
		b.WriteString("; ")
		b.WriteString(e.Note)
	}
	return b.String()
}

// detail is the message without operation, key, step and note.
func (e *Error) detail() string {
	var b strings.Builder
	switch {
	case okStatus(e.Code, e.Status):
		// A success status, yet an error: the answer could not be read.
		b.WriteString(e.Message)
	case e.Code != "" || e.Status != 0:
		code := e.Code
		if code == "" {
			code = strings.ReplaceAll(http.StatusText(e.Status), " ", "")
		}
		b.WriteString(code)
		if e.Status != 0 {
			fmt.Fprintf(&b, " (HTTP %d)", e.Status)
		}
		if e.Message != "" && e.Message != e.Code && e.Message != http.StatusText(e.Status) {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
	case e.Message != "":
		b.WriteString(e.Message)
	default:
		b.WriteString(serverText(fmt.Sprint(e.Err)))
	}
	if e.Status >= 300 && e.Status < 400 {
		b.WriteString(redirectAdvice(e))
	}
	if e.Code == "AccessControlListNotSupported" {
		b.WriteString(" (the bucket has ACLs disabled; configure an empty ACL for it)")
	}
	if accessDenied(e.Code, e.Status) {
		fmt.Fprintf(&b, "; bucket %q at %s refused access", e.Bucket, e.Endpoint)
		if e.Key != "" && (e.Op == "get" || e.Op == "head") {
			b.WriteString(" (a 403 can also mean the object is absent and the key lacks s3:ListBucket)")
		}
	}
	return b.String()
}

// redirectAdvice explains a 3xx answer, which s3sync never follows.
func redirectAdvice(e *Error) string {
	var b strings.Builder
	if e.Location != "" {
		fmt.Fprintf(&b, "; the server redirected to %s", e.Location)
	} else {
		b.WriteString("; the server answered with a redirect")
	}
	if isWrongEndpoint(e.Code, e.Status) {
		b.WriteString(": the bucket must be addressed at another endpoint")
		if e.Region != "" {
			fmt.Fprintf(&b, ", it is in region %s", e.Region)
		}
		fmt.Fprintf(&b, "; set the region and endpoint URL the provider names for bucket %q (now %s)", e.Bucket, e.Endpoint)
		return b.String()
	}
	fmt.Fprintf(&b, ", which s3sync does not follow: an S3 server answers with the object or an error, and a redirect could hand over another host's data or this request's signature; check the endpoint URL (now %s)", e.Endpoint)
	return b.String()
}

// isWrongEndpoint reports a 301 (AWS's PermanentRedirect): the bucket lives at another
// endpoint or in another region, which holds for every object of it. A 308 is not one,
// although the SDK names a 308 without an error body "PermanentRedirect" after its status text.
func isWrongEndpoint(code string, status int) bool {
	return status == http.StatusMovedPermanently || (code == "PermanentRedirect" && status == 0)
}

// redirectTarget returns a redirect's Location for messages: scheme, host and path only (user
// information and query may hold secrets), capped in length.
func redirectTarget(loc string) string {
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "an unparsable Location"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return serverText(u.String())
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports os.ErrNotExist for a missing object, so errors.Is(err, os.ErrNotExist) works.
func (e *Error) Is(target error) bool {
	return target == os.ErrNotExist && notFound(e.Code, e.Status)
}

// newError turns an SDK or transport error into an *Error for op on key (the full key); ctx is
// the caller's context of the operation.
func (c *Client) newError(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Bucket: c.bucket, Key: key, Endpoint: c.endpoint, Err: err, ctxDone: ctx.Err() != nil}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		e.Code = apiErr.ErrorCode()
		e.Message = serverText(apiErr.ErrorMessage())
	}
	var respErr interface{ HTTPStatusCode() int }
	if errors.As(err, &respErr) {
		e.Status = respErr.HTTPStatusCode()
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.Response != nil {
		if e.Status >= 300 && e.Status < 400 {
			e.Location = redirectTarget(resp.Response.Header.Get("Location"))
			e.Region = serverText(resp.Response.Header.Get("X-Amz-Bucket-Region"))
		}
	}
	switch {
	case e.Code == "" && e.Status == 0:
		e.Message = transportMessage(err)
	case okStatus(e.Code, e.Status):
		var de *smithy.DeserializationError
		if errors.As(err, &de) && de.Err != nil {
			err = de.Err
		}
		e.Message = fmt.Sprintf("the answer (HTTP %d) could not be read, it is not the S3 XML it should be: %s", e.Status, transportMessage(err))
	}
	return e
}

// okStatus reports a success status without an S3 error code: an error that arrived with a
// 2xx answer, which the SDK could not read (broken XML, a body cut short).
func okStatus(code string, status int) bool {
	return code == "" && status >= 200 && status < 300
}

// transportMessage describes an error that carries no S3 response. For an SDK error that is the
// cause inside *url.Error (whose own text repeats the URL), else the operation's cause without
// the SDK's "operation error S3: GetObject, ..." preamble. Other errors (a failed body read, a
// cancelled context) speak for themselves.
func transportMessage(err error) string {
	var oe *smithy.OperationError
	if !errors.As(err, &oe) || oe.Err == nil {
		return serverText(err.Error())
	}
	var ue *url.Error
	if errors.As(oe.Err, &ue) {
		return serverText(ue.Err.Error())
	}
	return serverText(oe.Err.Error())
}

// serverText flattens a message a server controls to one line (text.OneLine) and caps its length
// at 400 bytes.
func serverText(s string) string {
	return text.Clip(text.OneLine(s), 400)
}

// apiInfo returns the S3 error code and HTTP status carried by err, if any.
func apiInfo(err error) (code string, status int) {
	var se *Error
	if errors.As(err, &se) && (se.Code != "" || se.Status != 0) {
		return se.Code, se.Status
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr interface{ HTTPStatusCode() int }
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

func notFound(code string, status int) bool {
	switch code {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket", "NoSuchUpload":
		return false
	}
	return status == http.StatusNotFound
}

func accessDenied(code string, status int) bool {
	switch code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "AccountProblem":
		return true
	}
	return status == http.StatusForbidden
}

// IsNotFound reports whether err says the object does not exist: NoSuchKey, NotFound or another
// HTTP 404, but not NoSuchBucket. errors.Is(err, os.ErrNotExist) holds for the same errors.
func IsNotFound(err error) bool {
	if err == nil {
		return false
	}
	if code, status := apiInfo(err); code != "" || status != 0 {
		return notFound(code, status)
	}
	return errors.Is(err, os.ErrNotExist)
}

// IsNoSuchBucket reports whether err says the bucket does not exist.
func IsNoSuchBucket(err error) bool {
	code, _ := apiInfo(err)
	return code == "NoSuchBucket"
}

// IsAccessDenied reports whether the server refused the request: HTTP 403, AccessDenied, or
// credentials it does not accept (InvalidAccessKeyId, SignatureDoesNotMatch).
func IsAccessDenied(err error) bool {
	if err == nil {
		return false
	}
	return accessDenied(apiInfo(err))
}

var retryableCodes = map[string]bool{
	"SlowDown":               true,
	"RequestTimeout":         true, // AWS sends it with HTTP 400
	"InternalError":          true,
	"ServiceUnavailable":     true,
	"Throttling":             true,
	"ThrottlingException":    true,
	"TooManyRequests":        true,
	"RequestLimitExceeded":   true,
	"BandwidthLimitExceeded": true,
}

var retryableStatus = map[int]bool{
	http.StatusRequestTimeout:      true, // 408
	http.StatusTooManyRequests:     true, // 429
	http.StatusInternalServerError: true, // 500
	http.StatusBadGateway:          true, // 502
	http.StatusServiceUnavailable:  true, // 503
	http.StatusGatewayTimeout:      true, // 504
}

// IsRetryableStatus reports whether an HTTP answer with status is worth another try, as
// IsRetryable judges an S3 error's: throttling (429), a server error (500, 502, 503, 504) or
// a timeout (408). It is for answers that are no S3 error, such as an anonymous GET's.
func IsRetryableStatus(status int) bool { return retryableStatus[status] }

// IsRetryable reports whether trying the same request again may succeed: throttling and server
// errors (429, 500, 502, 503, 504, 408, SlowDown, RequestTimeout, InternalError), timeouts of the
// connection, broken connections (reset, refused, broken pipe, unexpected EOF), and a GET body
// whose length does not match its Content-Length (ErrBodyLength). It is false
// when the caller's context was cancelled or ran out (context.Canceled, context.DeadlineExceeded),
// for every other HTTP status, and for ErrSizeMismatch and ErrChecksumMismatch.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var se *Error
	if errors.As(err, &se) && se.ctxDone {
		return false
	}
	// net/http's own timeouts (response headers, TLS handshake) also match
	// context.DeadlineExceeded through an Is method; only the context's own error is final.
	if errors.Is(err, context.Canceled) || chainHas(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrBodyLength) {
		return true
	}
	if errors.Is(err, ErrSizeMismatch) || errors.Is(err, ErrChecksumMismatch) {
		return false
	}
	if code, status := apiInfo(err); (code != "" || status != 0) && !okStatus(code, status) {
		return retryableCodes[code] || retryableStatus[status]
	}
	// No status that decides, or a 2xx that could not be read: the transport's error does.
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE, syscall.ECONNABORTED, syscall.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "unexpected EOF", "connection refused", "server closed idle connection", "use of closed network connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// chainHas reports whether target itself (not merely an error that says it is target) is in
// err's chain.
func chainHas(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if chainHas(e, target) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// bucketWideCodes are answers that no object of the bucket will get past: the bucket, the
// credentials, the region or the ACL setting is wrong.
var bucketWideCodes = map[string]bool{
	"NoSuchBucket":                  true,
	"InvalidAccessKeyId":            true,
	"SignatureDoesNotMatch":         true,
	"AccessControlListNotSupported": true,
	"AllAccessDisabled":             true,
	"AccountProblem":                true,
	"InvalidBucketName":             true,
	"PermanentRedirect":             true,
	"AuthorizationHeaderMalformed":  true,
	"InvalidToken":                  true,
	"ExpiredToken":                  true,
	"NotSignedUp":                   true,
}

// IsBucketWide reports whether err will be the answer for every object of the bucket (wrong
// bucket, credentials, region, or an ACL the bucket does not accept), so that going on would
// only fail every object. A per-object AccessDenied is not bucket-wide, nor is a redirect
// other than a 301 (PermanentRedirect, the wrong region or endpoint).
func IsBucketWide(err error) bool {
	if err == nil {
		return false
	}
	code, status := apiInfo(err)
	if status >= 300 && status < 400 {
		return isWrongEndpoint(code, status)
	}
	return bucketWideCodes[code]
}

// IsCorrupted reports whether the body did not arrive intact: the destination rejected its
// MD5 or SHA-256 (BadDigest, InvalidDigest, XAmzContentSHA256Mismatch), or it was shorter or
// longer than announced, or it did not match PutOptions.ContentMD5. Nothing was stored;
// copying again from a fresh GET may succeed.
func IsCorrupted(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrSizeMismatch) || errors.Is(err, ErrChecksumMismatch) {
		return true
	}
	switch code, _ := apiInfo(err); code {
	case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch":
		return true
	}
	return false
}
