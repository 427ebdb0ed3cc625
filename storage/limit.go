package storage

import (
	"context"

	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// limitRequests returns the API option that makes every operation of a client wait for a token
// of l before it is sent. It sits in the Finalize step, after signing's preparation and before
// the request goes out; the SDK's retries are off, so one operation is one request. Waiting
// ends early, with the context's error, when the caller's context ends.
func limitRequests(l *rate.Limiter) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("S3SyncRateLimit",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := l.Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.Before)
	}
}
