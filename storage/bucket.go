package storage

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ListedObject is one entry of a bucket listing.
type ListedObject struct {
	Key          string // relative to KeyPrefix
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
}

// CreateBucket creates the client's bucket; a bucket that already exists and is ours is fine.
// Used by the demo sandbox, never by a migration.
func (c *Client) CreateBucket(ctx context.Context) error {
	_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(c.bucket)})
	if code, _ := apiInfo(err); code == "BucketAlreadyOwnedByYou" {
		return nil
	}
	return c.newError(ctx, "create bucket", "", err)
}

// List calls fn for every object under KeyPrefix + prefix, one page of at most 1000 keys at a
// time, so memory stays flat whatever the bucket's size. fn's error stops the listing.
func (c *Client) List(ctx context.Context, prefix string, fn func(ListedObject) error) error {
	full := c.Key(prefix)
	strip := len(c.Key("x")) - 1 // the length of KeyPrefix + "/", or 0
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), Prefix: aws.String(full)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return c.newError(ctx, "list", full, err)
		}
		for _, o := range page.Contents {
			err := fn(ListedObject{Key: aws.ToString(o.Key)[strip:], Size: aws.ToInt64(o.Size),
				ETag: strings.Trim(aws.ToString(o.ETag), `"`), LastModified: aws.ToTime(o.LastModified)})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
