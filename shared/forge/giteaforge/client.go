// Package giteaforge is the forge.Forge adapter for one Gitea or Forgejo
// repository, over Gitea's REST API (/api/v1) with net/http: Gitea accepts
// GitHub's create-PR body but not its label or merge calls, and its SDK would
// be a heavy dependency for a dozen endpoints.
package giteaforge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// defaultRetryAfter is the wait for a rate limit that names none.
const defaultRetryAfter = 60 * time.Second

// Forge is the forge.Forge adapter for one Gitea repository.
type Forge struct {
	api     string // https://host/api/v1
	token   string
	owner   string
	repo    string
	http    *http.Client
	timeout time.Duration
}

var _ forge.Forge = (*Forge)(nil)

// New returns a Forge for owner/repo on the Gitea at baseURL
// ("https://gitea.example.com"), authenticated with token, which needs the
// repository (read/write), issue (read/write) and organization (read) scopes.
func New(baseURL, token, owner, repo string, client *http.Client) *Forge {
	if client == nil {
		client = http.DefaultClient
	}
	// A copy, so that the caller's client is not instrumented twice.
	c := *client
	c.Transport = forge.Instrument("gitea", c.Transport)
	return &Forge{api: strings.TrimRight(baseURL, "/") + "/api/v1", token: token, owner: owner, repo: repo,
		http: &c, timeout: 30 * time.Second}
}

// apiError is a non-2xx answer: its method, path, status and Gitea's message.
type apiError struct {
	method, path string
	status       int
	message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.message)
}

// call sends one request to path under the repository ("" for the
// repository itself; a leading "/" for a path from the API root) and decodes
// the answer into out (nil to discard). Errors are classified.
func (f *Forge) call(ctx context.Context, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	url := f.api + path
	if !strings.HasPrefix(path, "/") {
		url = f.api + "/repos/" + f.owner + "/" + f.repo + "/" + path
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return retry.Permanent(fmt.Errorf("encoding request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return retry.Permanent(err)
	}
	req.Header.Set("Authorization", "token "+f.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return err // network failures and timeouts: transient
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode >= 300 {
		return classify(&apiError{method: method, path: req.URL.Path, status: resp.StatusCode, message: message(raw)}, resp.Header)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding %s %s: %w", method, req.URL.Path, err)
	}
	return nil
}

func message(raw []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && m.Message != "" {
		return m.Message
	}
	return strings.TrimSpace(string(raw[:min(len(raw), 200)]))
}

// classify is the one place that decides whether a Gitea failure is
// transient, comes with a server-given wait, or is permanent — the same
// classes as githubforge's.
func classify(e *apiError, h http.Header) error {
	switch {
	case e.status == http.StatusTooManyRequests || (e.status == http.StatusForbidden && h.Get("Retry-After") != ""):
		return retry.After(e, retryAfter(h))
	case e.status == http.StatusNotFound:
		return retry.Permanent(fmt.Errorf("%w: %w", forge.ErrNotFound, e))
	case e.status == http.StatusRequestTimeout:
		return e
	case e.status >= 400 && e.status < 500:
		return retry.Permanent(e)
	default:
		return e
	}
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return defaultRetryAfter
}

func status(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.status
	}
	return 0
}
