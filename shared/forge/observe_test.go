package forge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/google/go-cmp/cmp"
)

// recorder is a forge.Observer writing what it hears as lines.
type recorder struct{ heard []string }

func (r *recorder) ForgeRequest(f, method string, code int) {
	r.heard = append(r.heard, fmt.Sprintf("%s %s %d", f, method, code))
}

func (r *recorder) ForgeRateLimited(f string, wait time.Duration) {
	r.heard = append(r.heard, fmt.Sprintf("%s rate-limited %s", f, wait.Round(time.Minute)))
}

func TestInstrument(t *testing.T) {
	reset := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/slow-down":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/quota":
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", reset)
			w.WriteHeader(http.StatusForbidden)
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	client := &http.Client{Transport: forge.Instrument("github", nil)}
	for _, tc := range []struct {
		name, method, url string
		observed          bool
		want              []string
	}{
		{"success", http.MethodGet, srv.URL + "/ok", true, []string{"github GET 200"}},
		{"retry-after", http.MethodPost, srv.URL + "/slow-down", true, []string{"github POST 429", "github rate-limited 2m0s"}},
		{"quota reset", http.MethodGet, srv.URL + "/quota", true, []string{"github GET 403", "github rate-limited 1h0m0s"}},
		{"plain 403 is no rate limit", http.MethodGet, srv.URL + "/forbidden", true, []string{"github GET 403"}},
		{"no answer", http.MethodGet, "http://127.0.0.1:1/", true, []string{"github GET 0"}},
		{"no observer in the context", http.MethodGet, srv.URL + "/ok", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			ctx := context.Background()
			if tc.observed {
				ctx = forge.WithObserver(ctx, rec)
			}
			req, _ := http.NewRequestWithContext(ctx, tc.method, tc.url, nil)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
			if diff := cmp.Diff(tc.want, rec.heard); diff != "" {
				t.Errorf("observer heard (-want +got):\n%s", diff)
			}
		})
	}
}
