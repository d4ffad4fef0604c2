package build_test

import (
	"context"
	"fmt"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
)

// TestTraceIsReadableWhenTheRegistryAnnouncesTheImage reads the build's
// trace record the instant each manifest PUT succeeds, as the fastest
// registry notification would: the registry function must find it there.
func TestTraceIsReadableWhenTheRegistryAnnouncesTheImage(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	lookup := registry.TraceLookup(st)

	reg, err := ociregistry.Open(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]string{} // tag or digest → trace found at PUT time
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		if i := strings.LastIndex(r.URL.Path, "/manifests/"); r.Method == http.MethodPut && i > 0 && rec.Code == http.StatusCreated {
			d := rec.Header().Get("Docker-Content-Digest")
			mu.Lock()
			seen[r.URL.Path[i+len("/manifests/"):]] = lookup(r.Context(), d)
			mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(rs.Close)
	image := strings.TrimPrefix(rs.URL, "http://") + "/acme/web"

	appDir := filepath.Join(t.TempDir(), "app")
	cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s, branch: main}
    image: %s
    environments:
      - {name: dev, path: envs/dev, release: auto}
`, appDir, image)))
	if err != nil {
		t.Fatal(err)
	}
	b := &build.Builder{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Idem: st,
		TempDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	c := consume.Consumer{Fn: b.Func()}
	repo := commitRepo(t, appDir)
	for i := range 20 { // the issue saw the hop break in 1–3 of every 4 pushes
		sha := repo(fmt.Sprintf("version %d\n", i))
		trace := fmt.Sprintf("trace-%d", i)
		env, _ := event.New(event.KindPush, "github", "d-"+sha, trace,
			event.Push{Repository: "acme/web", CloneURL: "file://" + appDir, Ref: "refs/heads/main", Branch: "main", After: sha}, time.Now())
		body, _ := env.Encode()
		if err := c.Handle(ctx, queue.Message{ID: "m", Body: body}); err != nil {
			t.Fatalf("build %d failed: %v", i, err)
		}
		mu.Lock()
		got, ok := seen["sha-"+sha[:12]]
		mu.Unlock()
		if !ok || got != trace {
			t.Fatalf("push %d: when the registry accepted the manifest, the trace record held %q (pushed: %v), want %q", i, got, ok, trace)
		}
	}
}
