package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/gitlabforge"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
	"github.com/conveyor-gitops/conveyor/shared/metrics"
)

// TestForgeCalls makes one real call through each forge adapter to a
// server that rate-limits it, under a context carrying the registry, and
// reads the calls and waits back from a scrape.
func TestForgeCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"message":"slow down"}`))
	}))
	defer srv.Close()
	gh, err := githubauth.NewClient(nil, srv.URL+"/api-v3/", nil)
	if err != nil {
		t.Fatal(err)
	}
	gl, err := gitlabforge.NewClient(srv.URL, "token", nil)
	if err != nil {
		t.Fatal(err)
	}
	forges := map[string]forge.Forge{
		"github": githubforge.New(gh, "o", "r"),
		"gitea":  giteaforge.New(srv.URL, "token", "o", "r", nil),
		"gitlab": gitlabforge.New(gl, "o/r"),
	}
	r := metrics.New(metrics.Sources{})
	ctx := forge.WithObserver(context.Background(), r)
	for name, f := range forges {
		if _, err := f.Get(ctx, 1); err == nil {
			t.Errorf("%s: Get succeeded against a rate limit", name)
		}
	}
	// Without the observer in the context nothing is counted.
	if _, err := forges["github"].Get(context.Background(), 1); err == nil {
		t.Error("github: Get succeeded against a rate limit")
	}
	got := scrape(t, r)
	for _, want := range []string{
		"conveyor_forge_requests_total{code=4xx,forge=github,method=GET} 1",
		"conveyor_forge_requests_total{code=4xx,forge=gitea,method=GET} 1",
		"conveyor_forge_requests_total{code=4xx,forge=gitlab,method=GET} 1",
		"conveyor_forge_ratelimit_wait_seconds{forge=github} 1",
		"conveyor_forge_ratelimit_wait_seconds{forge=gitea} 1",
		"conveyor_forge_ratelimit_wait_seconds{forge=gitlab} 1",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, got)
		}
	}
}

func TestBuildsAndRegistryCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	r := metrics.New(metrics.Sources{})
	client := &http.Client{Transport: r.RegistryTransport(nil)}
	for _, m := range []string{http.MethodPut, http.MethodHead, http.MethodHead} {
		req, _ := http.NewRequest(m, srv.URL+"/v2/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	r.BuildFinished("web", "pushed", 3*time.Second, 2048)
	r.BuildFinished("web", "present", time.Second, 0)
	got := scrape(t, r)
	for _, want := range []string{
		"conveyor_registry_requests_total{code=2xx,method=PUT} 1",
		"conveyor_registry_requests_total{code=4xx,method=HEAD} 2",
		"conveyor_build_duration_seconds{app=web,result=pushed} 1",
		"conveyor_build_duration_seconds{app=web,result=present} 1",
		"conveyor_build_pushed_bytes_total{app=web} 2048",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, got)
		}
	}
}
