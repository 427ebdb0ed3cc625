package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// errStopList ends FirstKey's listing after the first key.
var errStopList = errors.New("stop listing")

// FirstKey returns the first key under KeyPrefix + prefix, "" when there is none.
func (c *Client) FirstKey(ctx context.Context, prefix string) (string, error) {
	var key string
	err := c.List(ctx, prefix, func(o ListedObject) error {
		key = o.Key
		return errStopList
	})
	if errors.Is(err, errStopList) {
		err = nil
	}
	return key, err
}

// ProbeChecksum puts a small temporary object with the SDK's default CRC32 checksum headers
// (which s3sync itself does not send) and removes it: nil means the server accepts them.
func (c *Client) ProbeChecksum(ctx context.Context) error {
	key := tempKey("checksum")
	full := c.Key(key)
	cl := s3.New(c.s3.Options(), func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	})
	body := []byte("s3sync checksum probe\n")
	_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(full),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		return c.newError(ctx, "put", full, err)
	}
	return c.Delete(ctx, key)
}

// PathStyleAlternative returns a client like c (of cfg) with the other addressing style.
func PathStyleAlternative(cfg Config) (*Client, error) {
	cfg.PathStyle = !cfg.PathStyle
	return New(cfg)
}

// tempKey is a key for a temporary check object: .s3sync-check/<what>-<random>.
func tempKey(what string) string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return ".s3sync-check/" + what + "-" + hex.EncodeToString(rnd[:])
}

// TempKey returns a fresh key for a temporary object of `s3sync check`.
func TempKey(what string) string { return tempKey(what) }

// Code returns the S3 error code and HTTP status of err ("" and 0 when it has none).
func Code(err error) (string, int) { return apiInfo(err) }
