package githubforge

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// defaultRetryAfter is the wait for a rate limit that names none.
const defaultRetryAfter = 60 * time.Second

// classify marks an error from go-github for the queue's retry policy. It is
// the only place that decides whether a GitHub failure is transient, comes
// with a server-given wait, or is permanent.
func classify(err error) error {
	var (
		rateLimit *github.RateLimitError
		abuse     *github.AbuseRateLimitError
		resp      *github.ErrorResponse
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rateLimit):
		// go-github also returns this without a request when it remembers
		// that the primary limit is exhausted until Reset.
		d := defaultRetryAfter
		if !rateLimit.Rate.Reset.IsZero() {
			d = max(time.Until(rateLimit.Rate.Reset.Time), 0)
		}
		return retry.After(err, d)
	case errors.As(err, &abuse):
		d := defaultRetryAfter
		if abuse.RetryAfter != nil {
			d = max(*abuse.RetryAfter, 0)
		}
		return retry.After(err, d)
	case errors.As(err, &resp):
		return classifyResponse(resp)
	default:
		// Network failures, timeouts and undecodable bodies: transient.
		return err
	}
}

func classifyResponse(resp *github.ErrorResponse) error {
	e := &apiError{resp: resp}
	status := e.status()
	var h http.Header
	if resp.Response != nil {
		h = resp.Response.Header
	}
	switch {
	case isRateLimited(status, h, resp.Message):
		// go-github maps only 403s to its rate-limit types; a 429 (or a 403
		// it did not recognise) arrives here.
		return retry.After(e, rateLimitWait(h))
	case status == http.StatusNotFound:
		return retry.Permanent(fmt.Errorf("%w: %w", forge.ErrNotFound, e))
	case status == http.StatusRequestTimeout:
		return e
	case status >= 400 && status < 500:
		return retry.Permanent(e)
	default:
		return e
	}
}

func isRateLimited(status int, h http.Header, message string) bool {
	switch status {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return h.Get("Retry-After") != "" || h.Get("X-RateLimit-Remaining") == "0" ||
			strings.Contains(strings.ToLower(message), "rate limit")
	}
	return false
}

// rateLimitWait reads Retry-After (seconds or an HTTP date), then the
// primary limit's reset time, and falls back to defaultRetryAfter.
func rateLimitWait(h http.Header) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Duration(s)*time.Second, 0)
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0)
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Until(time.Unix(reset, 0)), 0)
		}
	}
	return defaultRetryAfter
}

// apiError renders a GitHub error response with its message and every
// errors[] detail, without the query string, and unwraps to the
// *github.ErrorResponse.
type apiError struct {
	resp *github.ErrorResponse
}

func (e *apiError) status() int {
	if e.resp.Response == nil {
		return 0
	}
	return e.resp.Response.StatusCode
}

func (e *apiError) Error() string {
	var b strings.Builder
	if r := e.resp.Response; r != nil {
		if r.Request != nil && r.Request.URL != nil {
			fmt.Fprintf(&b, "%s %s: ", r.Request.Method, r.Request.URL.Path)
		}
		fmt.Fprintf(&b, "%d ", r.StatusCode)
	}
	msg := e.resp.Message
	if msg == "" {
		msg = http.StatusText(e.status())
	}
	b.WriteString(msg)
	if d := e.details(); len(d) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(d, "; "))
	}
	return b.String()
}

func (e *apiError) Unwrap() error { return e.resp }

func (e *apiError) details() []string {
	var out []string
	for _, d := range e.resp.Errors {
		switch {
		case d.Message != "":
			out = append(out, d.Message)
		case d.Code != "":
			out = append(out, fmt.Sprintf("%s: %s.%s", d.Code, d.Resource, d.Field))
		}
	}
	return out
}

// responseStatus returns the HTTP status of a go-github error response, or 0.
func responseStatus(err error) int {
	var resp *github.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil {
		return resp.Response.StatusCode
	}
	return 0
}

// responseSays reports whether a GitHub error response's message or any of
// its errors[].message contains text, ignoring case.
func responseSays(err error, text string) bool {
	var resp *github.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	text = strings.ToLower(text)
	if strings.Contains(strings.ToLower(resp.Message), text) {
		return true
	}
	for _, d := range resp.Errors {
		if strings.Contains(strings.ToLower(d.Message), text) {
			return true
		}
	}
	return false
}
