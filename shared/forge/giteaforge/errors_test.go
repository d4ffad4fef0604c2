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
