package main

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/storage"
)

// talksToS3 are the commands whose S3 requests a proxy from the environment would carry.
var talksToS3 = map[string]bool{
	"copy": true, "retry-failed": true, "check": true, "verify": true, "orphans": true,
	"fix-acl": true, "cleanup-uploads": true,
}

// warnProxies logs one WARNING when HTTP_PROXY, HTTPS_PROXY (or their lower-case forms) send
// the requests to the configured endpoints through a proxy: the storage client's transport
// uses http.ProxyFromEnvironment, so a variable left in a shell or a unit file silently routes
// every object, and the signed requests, through another machine. The decision is the
// transport's own (the same function, asked with a request to each endpoint), so NO_PROXY and
// Go's never-proxied loopback addresses are honoured. The proxy is named by scheme and host
// only, never with its user or password.
func warnProxies(log zerolog.Logger, cfg *Config) {
	byProxy := map[string][]string{}
	add := func(rawURL string) {
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			return
		}
		p, err := http.ProxyFromEnvironment(&http.Request{URL: u, Header: http.Header{}})
		if err != nil || p == nil {
			return
		}
		name := p.Scheme + "://" + p.Host
		if !contains(byProxy[name], u.Host) {
			byProxy[name] = append(byProxy[name], u.Host)
		}
	}
	for _, c := range []*storage.Config{cfg.Source, cfg.Destination} {
		if c == nil {
			continue
		}
		add(requestURL(c))
		if c.PublicURL != "" {
			add(c.PublicURL) // check and verify --public read it with the same transport
		}
	}
	if len(byProxy) == 0 {
		return
	}
	proxies := make([]string, 0, len(byProxy))
	var endpoints []string
	for p, hosts := range byProxy {
		proxies = append(proxies, p)
		endpoints = append(endpoints, hosts...)
	}
	sort.Strings(proxies)
	sort.Strings(endpoints)
	log.Warn().Str("proxy", strings.Join(proxies, ", ")).Str("endpoints", strings.Join(endpoints, ", ")).
		Str("hint", "unset HTTP_PROXY and HTTPS_PROXY, or list the endpoints in NO_PROXY, unless the proxy is meant").
		Msg("S3 requests go through a proxy from the environment (HTTP_PROXY/HTTPS_PROXY): every object and request passes through it")
}

// requestURL is a URL of the kind the S3 client requests for bucket c: the endpoint, with the
// bucket in the host name unless path_style, or AWS S3's regional endpoint.
func requestURL(c *storage.Config) string {
	if c.Endpoint == "" {
		return "https://" + c.Bucket + ".s3." + c.Region + ".amazonaws.com/"
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return c.Endpoint
	}
	if !c.PathStyle && c.Bucket != "" && !strings.Contains(c.Bucket, ".") {
		u.Host = c.Bucket + "." + u.Host
	}
	return u.String()
}
