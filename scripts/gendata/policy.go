package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// makePublic gives bucket a policy that lets anyone GET its objects, as a Mastodon media
// bucket must. The local S3 server (the Versity S3 Gateway) takes x-amz-acl and ignores it, as
// several hosted providers do, so the config's acl = public-read alone leaves the copies
// private and `s3sync check` fails its "public read" item; a bucket policy is how objects
// become public there.
func makePublic(ctx context.Context, o options, bucket string) error {
	cl := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(o.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(o.access, o.secret, ""),
	})
	policy, err := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
			"Resource": []string{"arn:aws:s3:::" + bucket + "/*"},
		}},
	})
	if err != nil {
		return err
	}
	if _, err := cl.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(string(policy))}); err != nil {
		return fmt.Errorf("make bucket %s publicly readable (put bucket policy): %w", bucket, err)
	}
	return nil
}
