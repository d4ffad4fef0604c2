package forge

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Observer hears every forge API call an instrumented client makes (see
// Instrument): the runtime's metrics. Codes are HTTP statuses, 0 when no
// answer came.
type Observer interface {
	ForgeRequest(forge, method string, code int)
	// ForgeRateLimited hears a rate-limited answer and the wait the forge
	// named (0 when it named none): the adapters hand that wait to the
	// retry policy, which holds the call or the message for as long.
	ForgeRateLimited(forge string, wait time.Duration)
}

type observerKey struct{}

// WithObserver returns ctx carrying o: the forge calls made under it are
// reported to o. The consumers' context carries it, so adapters built
// anywhere report to the runtime that runs them.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

func observerFrom(ctx context.Context) Observer {
	o, _ := ctx.Value(observerKey{}).(Observer)
	return o
}

// Instrument wraps next (http.DefaultTransport when nil) so that each
// request to the forge named forge ("github", "gitea", "gitlab") is
// reported to the Observer its context carries.
func Instrument(forge string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &instrumented{forge: forge, next: next, now: time.Now}
}

type instrumented struct {
	forge string
	next  http.RoundTripper
	now   func() time.Time
}

func (t *instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	o := observerFrom(req.Context())
	if o == nil {
		return resp, err
	}
	if err != nil {
		o.ForgeRequest(t.forge, req.Method, 0)
		return resp, err
	}
	o.ForgeRequest(t.forge, req.Method, resp.StatusCode)
	if rateLimited(resp) {
		o.ForgeRateLimited(t.forge, namedWait(resp.Header, t.now()))
	}
	return resp, err
}

// rateLimited tells a rate limit as the adapters do: 429, or 403 with a
// wait or an exhausted quota (GitHub's secondary and primary limits).
func rateLimited(resp *http.Response) bool {
	h := resp.Header
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return h.Get("Retry-After") != "" || h.Get("X-RateLimit-Remaining") == "0" || h.Get("RateLimit-Remaining") == "0"
	}
	return false
}

// namedWait reads Retry-After (seconds or an HTTP date), then the quota's
// reset time (GitHub's X-RateLimit-Reset, GitLab's RateLimit-Reset).
func namedWait(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get(k)), 10, 64); err == nil {
			return max(time.Unix(reset, 0).Sub(now), 0)
		}
	}
	return 0
}
