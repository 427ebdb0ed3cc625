package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// publicBase returns the URL visitors read cfg's bucket from: cfg.PublicURL when set, else the
// bucket's own URL (endpoint/bucket for path style, scheme://bucket.host otherwise, AWS's
// virtual-hosted URL without an endpoint). Like checkEndpoint it never echoes user information.
func publicBase(cfg Config, endpoint, region string) (string, error) {
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		switch {
		case err != nil:
			return "", errors.New("storage: public URL: not a valid URL (want e.g. https://media.example.org)")
		case u.User != nil:
			return "", errors.New("storage: public URL: must not contain user information")
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			return "", errors.New("storage: public URL: must be an http(s) URL with a host, e.g. https://media.example.org")
		case u.RawQuery != "" || u.Fragment != "":
			return "", errors.New("storage: public URL: must not have a query or fragment")
		}
		return strings.TrimRight(cfg.PublicURL, "/"), nil
	}
	if endpoint == "" {
		return "https://" + cfg.Bucket + ".s3." + region + ".amazonaws.com", nil
	}
	if cfg.PathStyle {
		return endpoint + "/" + cfg.Bucket, nil
	}
	u, _ := url.Parse(endpoint) // checked by checkEndpoint
	u.Host = cfg.Bucket + "." + u.Host
	return strings.TrimRight(u.String(), "/"), nil
}

// PublicURL returns the URL a visitor reads key (relative to the key prefix) from, each path
// segment escaped.
func (c *Client) PublicURL(key string) string {
	segs := strings.Split(c.Key(key), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.public + "/" + strings.Join(segs, "/")
}

// PublicResponse is what an anonymous GET of an object's public URL returned.
type PublicResponse struct {
	Status      int    // HTTP status
	ContentType string // Content-Type header
	Bytes       int64  // body bytes read (on 200)
}

// PublicGet fetches key from its PublicURL as a visitor's browser would: a plain GET, without
// credentials, following no redirect (a redirect is reported as its status). The body of a 200
// is read to the end and counted, never kept. An error means no HTTP answer at all.
func (c *Client) PublicGet(ctx context.Context, key string) (PublicResponse, error) {
	u := c.PublicURL(key)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return PublicResponse{}, fmt.Errorf("public get %s: %w", u, err)
	}
	hc := &http.Client{
		Transport:     c.http.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		return PublicResponse{}, fmt.Errorf("public get %s: %s", u, transportMessage(err))
	}
	defer resp.Body.Close()
	r := PublicResponse{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	if resp.StatusCode == http.StatusOK {
		r.Bytes, err = io.Copy(io.Discard, resp.Body)
		if err != nil {
			return r, fmt.Errorf("public get %s: reading the body: %s", u, transportMessage(err))
		}
	}
	return r, nil
}
