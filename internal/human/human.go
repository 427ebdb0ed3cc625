// Package human reads and writes the numbers people type and read: sizes and rates such as
// 50M, and durations left such as 1h2m3s.
package human

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseBytes reads a byte rate or size such as 50M, 1.5G, 800k or 1048576: a decimal number
// with an optional suffix k, M, G (powers of 1024; "B" and "iB" may follow).
func ParseBytes(s string) (int64, error) {
	f, err := ParseBytesFloat(s)
	if err != nil || !(f > 0) || f > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a positive size such as 50M, 800k or 1G", s)
	}
	return int64(f), nil
}

// ParseBytesFloat is ParseBytes without its checks: the number of bytes s names, which may be
// zero, negative, huge, infinite or NaN; callers bound it.
func ParseBytesFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "B"), "i")
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 50M, 800k or 1G", s)
	}
	return f * mult, nil
}

// ETA prints an ETA in seconds as "1h2m3s"; a negative one is "unknown".
func ETA(secs float64) string {
	if secs < 0 {
		return "unknown"
	}
	return (time.Duration(secs * float64(time.Second))).Round(time.Second).String()
}

// Bytes prints n in binary units: 0 B, 1.5 KiB, 3.2 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
