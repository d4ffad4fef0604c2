package board_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/board"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// TestThousandApps renders the grid of 1,000 apps × 3 environments with a
// release in each dev cell, and logs the page's weight and time; it fails
// only past a bound generous enough for a busy two-core machine.
func TestThousandApps(t *testing.T) {
	const apps = 1000
	ctx := context.Background()
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(t.TempDir(), "data"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	var y strings.Builder
	y.WriteString("version: 1\napps:\n")
	now := time.Now().UTC()
	for i := range apps {
		fmt.Fprintf(&y, "  - name: app%04d\n    source: {repo: acme/app%04d, branch: main}\n    image: registry.example/acme/app%04d\n    environments:\n", i, i, i)
		fmt.Fprintf(&y, "      - {name: dev, path: a%04d/dev, strategy: kustomize, release: auto}\n", i)
		fmt.Fprintf(&y, "      - {name: staging, path: a%04d/staging, strategy: kustomize, release: auto}\n", i)
		fmt.Fprintf(&y, "      - {name: prod, path: a%04d/prod, strategy: kustomize, release: manual, reviewers: [alice]}\n", i)
		d := fmt.Sprintf("sha256:%064x", i)
		r := state.Release{ID: fmt.Sprintf("app%04d/dev/%s", i, d), App: fmt.Sprintf("app%04d", i), Env: "dev", Digest: d, Tag: "sha-1",
			SourceCommit: strings.Repeat("a", 40), State: state.Merged, MergedBy: "conveyor", MergedAt: now, CreatedAt: now}
		if err := rt.State.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := board.New(board.Sources{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Releases: rt.State, Queues: rt})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	start := time.Now()
	resp, page := get(t, srv.URL+"/")
	took := time.Since(start)
	if resp.StatusCode != 200 || strings.Count(page, `class="cell"`) != 3*apps {
		t.Fatalf("GET / of %d apps: %d, %d cells", apps, resp.StatusCode, strings.Count(page, `class="cell"`))
	}
	t.Logf("%d apps × 3 environments: %d bytes of HTML in %s", apps, len(page), took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("rendering %d apps took %s", apps, took)
	}
}
