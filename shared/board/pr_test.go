package board_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/board"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// readCounter counts the releases each read of the records returns.
type readCounter struct {
	board.Releases
	mu    sync.Mutex
	reads []read
}

type read struct {
	f state.ReleaseFilter
	n int
}

func (c *readCounter) ListReleases(ctx context.Context, f state.ReleaseFilter) ([]state.Release, error) {
	rels, err := c.Releases.ListReleases(ctx, f)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = append(c.reads, read{f, len(rels)})
	return rels, err
}

// take returns the reads since the last take.
func (c *readCounter) take() []read {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reads
	c.reads = nil
	return r
}

// TestPRPageReadsItsReleases: among hundreds of pull requests, a pull
// request's page reads its own releases and the few the page's version
// takes, not the history; an unknown one is a 404 that reads none.
func TestPRPageReadsItsReleases(t *testing.T) {
	ctx := context.Background()
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(t.TempDir(), "data"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	now := time.Now().UTC()
	// 300 pull requests of two releases each: the second digest replaced
	// the first in place.
	for i := range 600 {
		pr, env := i%300+1, []string{"dev", "prod"}[i%2]
		d := fmt.Sprintf("sha256:%064x", i)
		r := state.Release{ID: fmt.Sprintf("web/%s/%s", env, d), App: "web", Env: env, Digest: d, State: state.Superseded,
			PR: pr, PRURL: fmt.Sprintf("https://forge.example/acme/gitops/pull/%d", pr), CreatedAt: now.Add(time.Duration(i) * time.Second)}
		if i >= 300 {
			r.State = state.Proposed
		}
		if err := rt.State.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(pipeline))
	if err != nil {
		t.Fatal(err)
	}
	reads := &readCounter{Releases: rt.State}
	b, err := board.New(board.Sources{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Releases: reads})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	for _, tc := range []struct {
		number int
		status int
		// releases is how many the pull request proposed.
		releases int
		want     []string
	}{
		{42, 200, 2, []string{"Pull request #42", `href="https://forge.example/acme/gitops/pull/42"`, "superseded", "proposed"}},
		{999, 404, 0, []string{"no promotion has this pull request"}},
	} {
		t.Run(fmt.Sprint(tc.number), func(t *testing.T) {
			reads.take()
			resp, body := get(t, fmt.Sprintf("%s/prs/%d", srv.URL, tc.number))
			if resp.StatusCode != tc.status {
				t.Fatalf("GET /prs/%d: %d, want %d\n%s", tc.number, resp.StatusCode, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET /prs/%d lacks %q\n%s", tc.number, w, body)
				}
			}
			own := 0
			for _, r := range reads.take() {
				switch {
				case r.f.Newest > 0 && r.n <= r.f.Newest:
				case r.f == state.ReleaseFilter{PR: tc.number}:
					own += r.n
				default:
					t.Errorf("read %+v returned %d releases", r.f, r.n)
				}
			}
			if own != tc.releases {
				t.Errorf("the page read %d releases of #%d beyond its version's, want its %d", own, tc.number, tc.releases)
			}
		})
	}
}
