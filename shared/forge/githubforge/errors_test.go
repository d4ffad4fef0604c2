package githubforge_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

func TestErrorClassification(t *testing.T) {
	const (
		secondaryDoc = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
		primaryDoc   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-rate-limits"
	)
	secondary := ghError(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", secondaryDoc)
	primary := ghError(403, "API rate limit exceeded for installation ID 712345.", primaryDoc)
	reset := time.Now().Add(90 * time.Second).Unix()
	primaryHeader := map[string]string{
		"X-RateLimit-Limit":     "5000",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Used":      "5000",
		"X-RateLimit-Reset":     strconv.FormatInt(reset, 10),
		"X-RateLimit-Resource":  "core",
	}

	tests := []struct {
		name          string
		reply         reply
		wantAfter     [2]time.Duration // inclusive range; zero: no RetryAfter
		wantPermanent bool
		wantNotFound  bool
		wantText      string
	}{{
		name:      "secondary rate limit with Retry-After",
		reply:     reply{Status: 403, Header: map[string]string{"Retry-After": "7"}, Body: secondary},
		wantAfter: [2]time.Duration{7 * time.Second, 7 * time.Second},
	}, {
		name:      "secondary rate limit without Retry-After",
		reply:     reply{Status: 403, Body: secondary},
		wantAfter: [2]time.Duration{60 * time.Second, 60 * time.Second},
	}, {
		name:      "primary rate limit until reset",
		reply:     reply{Status: 403, Header: primaryHeader, Body: primary},
		wantAfter: [2]time.Duration{80 * time.Second, 90 * time.Second},
	}, {
		name:      "429 with Retry-After seconds",
		reply:     reply{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: primary},
		wantAfter: [2]time.Duration{30 * time.Second, 30 * time.Second},
	}, {
		name: "429 with Retry-After date",
		reply: reply{Status: 429, Header: map[string]string{
			"Retry-After": time.Now().Add(45 * time.Second).UTC().Format(http.TimeFormat),
		}, Body: primary},
		wantAfter: [2]time.Duration{40 * time.Second, 45 * time.Second},
	}, {
		name:      "429 with primary limit headers",
		reply:     reply{Status: 429, Header: primaryHeader, Body: primary},
		wantAfter: [2]time.Duration{80 * time.Second, 90 * time.Second},
	}, {
		name:      "429 without headers",
		reply:     reply{Status: 429, Body: primary},
		wantAfter: [2]time.Duration{60 * time.Second, 60 * time.Second},
	}, {
		name:     "502 is transient",
		reply:    reply{Status: 502, Header: map[string]string{"Content-Type": "text/html"}, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		wantText: "getting pull request #42: GET /api-v3/repos/o/r/pulls/42: 502 Bad Gateway",
	}, {
		name:  "dropped connection is transient",
		reply: reply{Status: -1},
	}, {
		name:          "404 is not found and permanent",
		reply:         reply{Status: 404, Body: ghError(404, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")},
		wantPermanent: true,
		wantNotFound:  true,
		wantText:      "getting pull request #42: pull request not found: GET /api-v3/repos/o/r/pulls/42: 404 Not Found",
	}, {
		name:          "401 is permanent",
		reply:         reply{Status: 401, Body: ghError(401, "Bad credentials", "https://docs.github.com/rest")},
		wantPermanent: true,
		wantText:      "401 Bad credentials",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newForge(t, map[string][]reply{"GET " + pullPath: {tt.reply}})
			_, err := f.Get(context.Background(), 42)
			if err == nil {
				t.Fatal("Get: no error")
			}
			checkClass(t, err, tt.wantAfter, tt.wantPermanent)
			if got := errors.Is(err, forge.ErrNotFound); got != tt.wantNotFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, got, tt.wantNotFound)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

// A 422 carries GitHub's message and its errors[].message details.
func TestValidationErrorIsPermanent(t *testing.T) {
	f, _ := newForge(t, map[string][]reply{"PATCH " + pullPath: {{Status: 422, Body: ghError(422, "Validation Failed",
		"https://docs.github.com/rest/pulls/pulls#update-a-pull-request",
		map[string]any{"resource": "PullRequest", "code": "custom", "message": "Cannot change the base branch of a closed pull request."},
		map[string]any{"resource": "PullRequest", "code": "invalid", "field": "state"},
	)}}})
	_, err := f.Update(context.Background(), 42, "t", "b", nil)
	if err == nil {
		t.Fatal("Update: no error")
	}
	checkClass(t, err, [2]time.Duration{}, true)
	want := "updating pull request #42: PATCH /api-v3/repos/o/r/pulls/42: 422 Validation Failed: Cannot change the base branch of a closed pull request.; invalid: PullRequest.state"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func checkClass(t *testing.T, err error, wantAfter [2]time.Duration, wantPermanent bool) {
	t.Helper()
	if got := retry.IsPermanent(err); got != wantPermanent {
		t.Errorf("IsPermanent(%v) = %v, want %v", err, got, wantPermanent)
	}
	d, ok := retry.RetryAfter(err)
	switch {
	case wantAfter == [2]time.Duration{} && ok:
		t.Errorf("RetryAfter(%v) = %v, want none", err, d)
	case wantAfter != [2]time.Duration{} && !ok:
		t.Errorf("RetryAfter(%v): none, want %v", err, wantAfter)
	case ok && (d < wantAfter[0] || d > wantAfter[1]):
		t.Errorf("RetryAfter(%v) = %v, want in [%v, %v]", err, d, wantAfter[0], wantAfter[1])
	}
}
