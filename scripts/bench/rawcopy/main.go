// Command rawcopy is the benchmark's ceiling: the least a client can do to copy a list of keys
// from one bucket to another with aws-sdk-go-v2. Each of --concurrency workers takes a key,
// GETs it and streams the body straight into a PUT of the same key (Content-Type and
// Cache-Control kept), one GET and one PUT per object, no checkpoint, no retries of its own.
//
// Its client is the SDK's default HTTP client with two changes that any serious copier makes:
// idle connections per host raised from the SDK's 10 to the concurrency (--max-idle), and
// checksums only where required (the SDK's default CRC32 needs a seekable body or
// aws-chunked encoding; streamed bodies are sent with UNSIGNED-PAYLOAD, as s3sync does).
//
// It prints one JSON line: {"objects":N,"bytes":N,"seconds":S,"errors":N}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:7171", "S3 endpoint of both buckets")
	access := flag.String("access-key", "", "access key")
	secret := flag.String("secret-key", "", "secret key")
	src := flag.String("src", "", "source bucket")
	dst := flag.String("dst", "", "destination bucket")
	keysFile := flag.String("keys", "", "file with one key a line")
	conc := flag.Int("concurrency", 32, "parallel copies")
	maxIdle := flag.Int("max-idle", 0, "idle connections kept per host, 0 = --concurrency")
	acl := flag.String("acl", "", "canned ACL sent with each PUT, e.g. public-read; \"\" = none")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rawcopy:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *src == "" || *dst == "" || *keysFile == "" {
		fmt.Fprintln(os.Stderr, "rawcopy: need --src, --dst and --keys")
		os.Exit(2)
	}
	keys, err := readKeys(*keysFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawcopy:", err)
		os.Exit(1)
	}
	idle := *maxIdle
	if idle <= 0 {
		idle = *conc
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = idle * 2
		t.MaxIdleConnsPerHost = idle
	})
	client := s3.New(s3.Options{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider(*access, *secret, ""),
		BaseEndpoint:               aws.String(*endpoint),
		UsePathStyle:               true,
		HTTPClient:                 httpClient,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	unsigned := s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

	ctx := context.Background()
	jobs := make(chan string)
	var objects, bytes, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range jobs {
				out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: src, Key: aws.String(key)})
				if err != nil {
					errs.Add(1)
					fmt.Fprintln(os.Stderr, "rawcopy: get", key, err)
					continue
				}
				_, err = client.PutObject(ctx, &s3.PutObjectInput{
					Bucket: dst, Key: aws.String(key), Body: out.Body, ContentLength: out.ContentLength,
					ContentType: out.ContentType, CacheControl: out.CacheControl, ACL: types.ObjectCannedACL(*acl),
				}, unsigned)
				out.Body.Close()
				if err != nil {
					errs.Add(1)
					fmt.Fprintln(os.Stderr, "rawcopy: put", key, err)
					continue
				}
				objects.Add(1)
				bytes.Add(aws.ToInt64(out.ContentLength))
			}
		}()
	}
	for _, k := range keys {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"objects": objects.Load(), "bytes": bytes.Load(), "errors": errs.Load(),
		"seconds": time.Since(start).Seconds(),
	})
	if errs.Load() > 0 {
		pprof.StopCPUProfile()
		os.Exit(3)
	}
}

func readKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k := sc.Text(); k != "" {
			keys = append(keys, k)
		}
	}
	return keys, sc.Err()
}
