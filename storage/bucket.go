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
	for after := ""; ; {
		objs, next, err := c.ListPage(ctx, prefix, after)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := fn(o); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// ListPage returns one page (at most 1000) of the objects under KeyPrefix + prefix, in key
// order, starting after the key after ("" = from the first), and the key to ask for the next
// page with ("" when this page is the last). Each page is one request, so a caller can retry a
// page without listing again from the start.
func (c *Client) ListPage(ctx context.Context, prefix, after string) (objs []ListedObject, next string, err error) {
	full := c.Key(prefix)
	strip := len(c.Key("x")) - 1 // the length of KeyPrefix + "/", or 0
	in := &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), Prefix: aws.String(full)}
	if after != "" {
		in.StartAfter = aws.String(c.Key(after))
	}
	page, err := c.s3.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, "", c.newError(ctx, "list", full, err)
	}
	objs = make([]ListedObject, 0, len(page.Contents))
	for _, o := range page.Contents {
		objs = append(objs, ListedObject{Key: aws.ToString(o.Key)[strip:], Size: aws.ToInt64(o.Size),
			ETag: strings.Trim(aws.ToString(o.ETag), `"`), LastModified: aws.ToTime(o.LastModified)})
	}
	if aws.ToBool(page.IsTruncated) && len(objs) > 0 {
		next = objs[len(objs)-1].Key
	}
	return objs, next, nil
}
