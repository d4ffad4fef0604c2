package gitlabforge

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// defaultRetryAfter is the wait for a rate limit that names none.
const defaultRetryAfter = 60 * time.Second

// classify marks an error from client-go for the queue's retry policy. It is
// the only place that decides whether a GitLab failure is transient, comes
// with a server-given wait, or is permanent. resp may be nil.
func classify(err error, resp *gitlab.Response) error {
	if err == nil {
		return nil
	}
	status, h := statusOf(err, resp)
	switch {
	case status == http.StatusTooManyRequests:
		return retry.After(err, rateLimitWait(h, time.Now()))
	case status == http.StatusNotFound:
		// client-go answers a 404 with its bare ErrNotFound sentinel.
		return retry.Permanent(fmt.Errorf("%w: %w", forge.ErrNotFound, err))
	case status == http.StatusRequestTimeout:
		return err
	case status >= 400 && status < 500:
		// 401 and 403 included: a token without the scope or a user
		// without the role fails the same way on every retry.
		return retry.Permanent(err)
	default:
		// 5xx, network failures, timeouts, undecodable bodies: transient.
		return err
	}
}

// statusOf returns the HTTP status and headers behind err, or 0.
func statusOf(err error, resp *gitlab.Response) (int, http.Header) {
	var er *gitlab.ErrorResponse
	switch {
	case errors.As(err, &er) && er.Response != nil:
		return er.Response.StatusCode, er.Response.Header
	case resp != nil && resp.Response != nil:
		return resp.StatusCode, resp.Header
	case errors.Is(err, gitlab.ErrNotFound):
		return http.StatusNotFound, nil
	}
	return 0, nil
}

// rateLimitWait reads Retry-After (seconds or an HTTP date), then
// RateLimit-Reset (a Unix time), and falls back to defaultRetryAfter.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Duration(s)*time.Second, 0)
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("RateLimit-Reset")), 10, 64); err == nil {
		return max(time.Unix(reset, 0).Sub(now), 0)
	}
	return defaultRetryAfter
}

// classifyMerge maps the accept endpoint's refusals to forge.ErrNotMergeable,
// transient: 405 and 406 (not mergeable now: conflicts, a pipeline, missing
// approvals, a draft), 409 (the sha parameter no longer names the head) and
// 422 (the merge itself failed). A rate limit keeps its wait.
func classifyMerge(err error, resp *gitlab.Response) error {
	switch status, _ := statusOf(err, resp); status {
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusConflict, http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: %w", forge.ErrNotMergeable, err)
	}
	return classify(err, resp)
}

func isStatus(err error, resp *gitlab.Response, status int) bool {
	s, _ := statusOf(err, resp)
	return err != nil && s == status
}
