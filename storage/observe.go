package storage

import (
	"context"
	"errors"
	"net/http"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Observer is told about every S3 request a Client makes, for metrics. Config.Observer sets it.
type Observer interface {
	// ObserveRequest is called once per request when its response headers arrived or it failed,
	// from the goroutine that made it; it must be fast and safe for concurrent use. op is the S3
	// operation ("GetObject", "PutObject", "UploadPart", ...), outcome one of the Outcome
	// constants, d the time the request took (a GET's body transfer is not included).
	ObserveRequest(op, outcome string, d time.Duration)
}

// Outcomes of a request, as passed to Observer.ObserveRequest.
const (
	OutcomeOK          = "ok"
	OutcomeNotFound    = "not_found"    // 404: NoSuchKey, NotFound
	OutcomeThrottled   = "throttled"    // 429, 503, SlowDown and the other throttling codes
	OutcomeClientError = "client_error" // any other 4xx
	OutcomeServerError = "server_error" // any other 5xx
	OutcomeNetwork     = "network_error"
	OutcomeCanceled    = "canceled" // the caller's context ended first
)

var throttleCodes = map[string]bool{"SlowDown": true, "Throttling": true, "ThrottlingException": true,
	"TooManyRequests": true, "RequestLimitExceeded": true, "BandwidthLimitExceeded": true}

// Outcome classifies the result of one request for an Observer: nil is OutcomeOK.
func Outcome(ctx context.Context, err error) string {
	if err == nil {
		return OutcomeOK
	}
	code, status := apiInfo(err)
	switch {
	case throttleCodes[code] || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return OutcomeThrottled
	case notFound(code, status):
		return OutcomeNotFound
	case status >= 500:
		return OutcomeServerError
	case status >= 400 || code != "":
		return OutcomeClientError
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return OutcomeCanceled
	}
	return OutcomeNetwork
}

// observe returns the API option that reports every operation of a client to o. It sits
// first in the Initialize step, so it times the whole operation; the SDK's retries are off,
// so one operation is one request.
func observe(o Observer) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("S3SyncObserver",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				o.ObserveRequest(awsmiddleware.GetOperationName(ctx), Outcome(ctx, err), time.Since(start))
				return out, md, err
			}), middleware.Before)
	}
}
