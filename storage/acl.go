package storage

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ACL returns the canned ACL the client sends on writes, "" when it sends none.
func (c *Client) ACL() string { return c.acl }

// aclFor is the canned ACL a write with opts sends: opts.ACL when the client has an ACL at all,
// else the client's; "" sends none.
func (c *Client) aclFor(opts PutOptions) string {
	if c.acl == "" {
		return ""
	}
	if opts.ACL != "" {
		return opts.ACL
	}
	return c.acl
}

// PutACL sets the canned ACL of the existing object at key (PutObjectAcl). A missing object
// gives an error for which IsNotFound holds.
func (c *Client) PutACL(ctx context.Context, key, acl string) error {
	full := c.Key(key)
	if err := checkKey(key); err != nil {
		return c.newError(ctx, "put acl", full, err)
	}
	_, err := c.s3.PutObjectAcl(ctx, &s3.PutObjectAclInput{
		Bucket: aws.String(c.bucket),
		Key:    aws.String(full),
		ACL:    types.ObjectCannedACL(acl),
	})
	return c.newError(ctx, "put acl", full, err)
}

// IsACLUnsupported reports whether err says the server or bucket does not take object ACLs
// (NotImplemented, AccessControlListNotSupported): every other object would get it too.
func IsACLUnsupported(err error) bool {
	if err == nil {
		return false
	}
	code, _ := apiInfo(err)
	return code == "NotImplemented" || code == "AccessControlListNotSupported"
}
