package giteaforge_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// TestErrorClasses: Gitea's failures get githubforge's classes.
func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		permanent bool
		notFound  bool
		wait      time.Duration
	}{
		{"rate limited with Retry-After", http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, false, false, 7 * time.Second},
		{"rate limited without a wait", http.StatusTooManyRequests, nil, false, false, 60 * time.Second},
		{"server error is transient", http.StatusBadGateway, nil, false, false, 0},
		{"missing pull request is permanent", http.StatusNotFound, nil, true, true, 0},
		{"forbidden is permanent", http.StatusForbidden, nil, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "token s3cret" {
					t.Errorf("Authorization header missing")
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(`{"message":"nope"}`))
			}))
			defer srv.Close()
			f := giteaforge.New(srv.URL, "s3cret", "o", "r", srv.Client())
			_, err := f.Get(context.Background(), 1)
			if err == nil {
				t.Fatal("Get succeeded")
			}
			if retry.IsPermanent(err) != tt.permanent || errors.Is(err, forge.ErrNotFound) != tt.notFound {
				t.Fatalf("err = %v: permanent %v notFound %v; want %v %v", err, retry.IsPermanent(err), errors.Is(err, forge.ErrNotFound), tt.permanent, tt.notFound)
			}
			if tt.wait > 0 {
				if d, ok := retry.RetryAfter(err); !ok || d != tt.wait {
					t.Fatalf("wait = %v, %v; want %v", d, ok, tt.wait)
				}
			}
		})
	}
}

// TestMergeWaitsForGiteasConflictCheck: Gitea answers 405 "Please try again
// later" while it checks a new head in the background; that is a wait, not
// a refusal, and any other 405 is a refusal.
func TestMergeWaitsForGiteasConflictCheck(t *testing.T) {
	const head = "1111111111111111111111111111111111111111"
	tests := []struct {
		name      string
		checking  int // 405 "try again later" answers before the merge goes through
		refusal   string
		wantErr   bool
		permanent bool
	}{
		{"checked after two answers", 2, "", false, false},
		{"other 405 is a refusal", 0, "Not allowed to merge", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var posts, merged int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.Method {
				case http.MethodGet:
					state := `"state":"open","merged":false`
					if merged > 0 {
						state = `"state":"closed","merged":true,"merge_commit_sha":"2222222222222222222222222222222222222222"`
					}
					w.Write([]byte(`{"number":1,` + state + `,"head":{"ref":"conveyor/web-dev","sha":"` + head + `","repo":{"full_name":"o/r"}},"base":{"ref":"main"}}`))
				case http.MethodPost:
					posts++
					switch {
					case posts <= tt.checking:
						w.WriteHeader(http.StatusMethodNotAllowed)
						w.Write([]byte(`{"message":"Please try again later"}`))
					case tt.refusal != "":
						w.WriteHeader(http.StatusMethodNotAllowed)
						w.Write([]byte(`{"message":"` + tt.refusal + `"}`))
					default:
						merged++
					}
				}
			}))
			defer srv.Close()
			f := giteaforge.New(srv.URL, "s3cret", "o", "r", srv.Client())
			sha, err := f.Merge(context.Background(), 1, forge.MergeOptions{HeadSHA: head})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Merge = %q, %v; want error %v", sha, err, tt.wantErr)
			}
			if err != nil && (!errors.Is(err, forge.ErrNotMergeable) || retry.IsPermanent(err) != tt.permanent) {
				t.Fatalf("Merge error %v: want ErrNotMergeable, permanent %v", err, tt.permanent)
			}
			if err == nil && (sha == "" || posts != tt.checking+1) {
				t.Fatalf("Merge = %q after %d posts; want a merge commit after %d", sha, posts, tt.checking+1)
			}
		})
	}
}
