package build_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// gitServer serves the repositories under a directory over https with the
// real git http-backend, recording every request's Authorization header.
type gitServer struct {
	srv  *httptest.Server
	host string
	mu   sync.Mutex
	auth []string
}

func serveGit(t *testing.T, root string) *gitServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skipf("the git CLI is needed to serve repositories over smart HTTP: %v", err)
	}
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		InheritEnv: []string{"PATH"}}
	g := &gitServer{}
	g.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.auth = append(g.auth, r.Header.Get("Authorization"))
		g.mu.Unlock()
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	g.host = strings.TrimPrefix(g.srv.URL, "https://")
	return g
}

func (g *gitServer) authorizations() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, a := range g.auth {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// trustGitServers makes go-git's https transport trust the test servers'
// certificates. The protocol table is global: no t.Parallel here.
func trustGitServers(t *testing.T, servers ...*gitServer) {
	t.Helper()
	pool := x509.NewCertPool()
	for _, s := range servers {
		pool.AddCert(s.srv.Certificate())
	}
	client.InstallProtocol("https", githttp.NewClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}))
	t.Cleanup(func() { client.InstallProtocol("https", githttp.DefaultClient) })
}

func commitApp(t *testing.T, dir, content string) string {
	t.Helper()
	repo, err := demo.InitRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.Commit(map[string]string{"Dockerfile": "FROM scratch\nCOPY index.html /\n", "index.html": content},
		"app", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return c.Hash.String()
}

// sourceFixture is an app configured from a repository on one git server,
// an attacker's repository of the same name on another, and a registry.
type sourceFixture struct {
	b                *build.Builder
	real, evil       *gitServer
	realSHA, evilSHA string
	image            string
	asked            []string // locations GitAuth was asked about
}

func newSourceFixture(t *testing.T, source func(realHost string) string, gitHost func(realHost string) string) *sourceFixture {
	t.Helper()
	ctx := context.Background()
	f := &sourceFixture{}
	realRoot, evilRoot := t.TempDir(), t.TempDir()
	f.realSHA = commitApp(t, filepath.Join(realRoot, "acme", "web.git"), "the real app\n")
	f.evilSHA = commitApp(t, filepath.Join(evilRoot, "acme", "web.git"), "the attacker's code\n")
	f.real, f.evil = serveGit(t, realRoot), serveGit(t, evilRoot)
	trustGitServers(t, f.real, f.evil)

	reg, err := ociregistry.Open(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(reg)
	t.Cleanup(rs.Close)
	f.image = strings.TrimPrefix(rs.URL, "http://") + "/acme/web"
	cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %q, branch: main}
    image: %s
    environments:
      - {name: dev, path: envs/dev, release: auto}
`, source(f.real.host), f.image)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f.b = &build.Builder{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Idem: st,
		GitHost: gitHost(f.real.host), TempDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		GitAuth: func(_ context.Context, repoURL string) (transport.AuthMethod, error) {
			f.asked = append(f.asked, repoURL)
			return &githttp.BasicAuth{Username: "x-access-token", Password: "s3cret"}, nil
		}}
	return f
}

func (f *sourceFixture) push(t *testing.T, p event.Push) error {
	t.Helper()
	env, err := event.New(event.KindPush, "github", "delivery-"+p.After, "trace-1", p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := (consume.Consumer{Fn: f.b.Func(), Log: f.b.Log}).Handle(context.Background(), queue.Message{ID: "m1", Body: body}); err != nil {
		return fmt.Errorf("the build failed: %w", err)
	}
	return nil
}

// built returns the content of index.html in the image tagged for sha, or
// "" when there is none.
func (f *sourceFixture) built(t *testing.T, sha string) string {
	t.Helper()
	ref, err := name.ParseReference(f.image + ":sha-" + sha[:12])
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		return ""
	}
	var out strings.Builder
	if err := crane.Export(img, &out); err != nil {
		t.Fatal(err)
	}
	// The export is a tar of one small file: its content is in there.
	for _, s := range []string{"the real app\n", "the attacker's code\n"} {
		if strings.Contains(out.String(), s) {
			return s
		}
	}
	return "?"
}

func (f *sourceFixture) annotation(t *testing.T, sha, key string) string {
	t.Helper()
	ref, _ := name.ParseReference(f.image + ":sha-" + sha[:12])
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Annotations[key]
}

func TestBuildTakesCodeFromTheConfiguredSourceOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		source  func(realHost string) string
		gitHost func(realHost string) string
	}{
		{"https URL", func(h string) string { return "https://" + h + "/acme/web" }, func(string) string { return "" }},
		{"owner/name on the configured git host", func(string) string { return "acme/web" }, func(h string) string { return h }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSourceFixture(t, tc.source, tc.gitHost)
			realURL := "https://" + f.real.host + "/acme/web.git"

			// The attacker's push names the app's repository but its own
			// server; it also tries the real server's name with its commit.
			for _, p := range []event.Push{
				{Repository: "acme/web", CloneURL: "https://" + f.evil.host + "/acme/web.git", Ref: "refs/heads/main", Branch: "main", After: f.evilSHA},
				{Repository: "https://" + f.evil.host + "/acme/web", Ref: "refs/heads/main", Branch: "main", After: f.evilSHA},
				{Repository: "acme/web", CloneURL: realURL, HTMLURL: "https://" + f.evil.host + "/acme/web", Ref: "refs/heads/main", Branch: "main", After: f.evilSHA},
			} {
				_ = f.push(t, p)
				if got := f.built(t, f.evilSHA); got != "" {
					t.Fatalf("push %+v built an image holding %q", p, got)
				}
			}
			if got := f.evil.authorizations(); len(got) > 0 {
				t.Fatalf("the attacker's server received credentials %q", got)
			}
			for _, loc := range f.asked {
				if strings.Contains(loc, f.evil.host) {
					t.Fatalf("credentials were asked for the attacker's %s", loc)
				}
			}

			// The real push builds the real code, fetched from the
			// configured location.
			evilPage := "https://" + f.evil.host + "/acme/web"
			if err := f.push(t, event.Push{Repository: "acme/web", CloneURL: realURL, HTMLURL: evilPage, Ref: "refs/heads/main", Branch: "main", After: f.realSHA}); err != nil {
				t.Fatal(err)
			}
			if got := f.built(t, f.realSHA); got != "the real app\n" {
				t.Fatalf("the real push built %q", got)
			}
			if src := f.annotation(t, f.realSHA, imagebuild.AnnotationSource); src == evilPage {
				t.Fatalf("the image's source annotation is the payload's %s", src)
			}
			if len(f.real.authorizations()) == 0 {
				t.Fatal("the configured server received no credentials")
			}
		})
	}
}
