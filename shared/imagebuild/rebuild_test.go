package imagebuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestBuildRebuild covers what a second build of the same revision does,
// depending on what the commit's tag holds.
func TestBuildRebuild(t *testing.T) {
	const dockerfile = "FROM scratch\nCOPY app /app\n"
	tests := []struct {
		name string
		// between changes the registry or the context after the first build.
		between    func(t *testing.T, reg *testRegistry, repo name.Repository, dir string)
		dockerfile string // of the second build; the first's when empty
		opts       func(o *Options)
		wantSame   bool // the second build returns the first's digest
		wantPushed bool
		wantWrites bool
	}{{
		name: "same recipe and revision: the context is trusted and not read",
		between: func(t *testing.T, _ *testRegistry, _ name.Repository, dir string) {
			// Not a checkout of the revision any more: shows the context is
			// not read, which is why UncommittedContext exists.
			writeFile(t, dir, "app/static/a.css", "changed")
		},
		wantSame: true,
	}, {
		name: "uncommitted context is always read",
		between: func(t *testing.T, _ *testRegistry, _ name.Repository, dir string) {
			writeFile(t, dir, "app/static/a.css", "changed")
		},
		opts:       func(o *Options) { o.UncommittedContext = true },
		wantPushed: true, wantWrites: true,
	}, {
		name:       "uncommitted but unchanged context: the digest exists, the tag is kept",
		opts:       func(o *Options) { o.UncommittedContext = true },
		wantSame:   true,
		wantWrites: true, // the layers are streamed before their digest is known
	}, {
		name:       "another recipe for the same revision",
		dockerfile: "FROM scratch\nCOPY app /app\nENV MODE=prod\n",
		wantPushed: true, wantWrites: true,
	}, {
		name: "tag moved away: rebuilt to the same digest, tag restored",
		between: func(t *testing.T, _ *testRegistry, repo name.Repository, _ string) {
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(repo.Tag("sha-"+revision[:12]), img); err != nil {
				t.Fatal(err)
			}
		},
		wantSame: true, wantWrites: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newRegistry(t)
			repo := reg.repo(t, "acme/rebuild")
			dir := writeContext(t, reproFiles, time.Now())
			build := func(df string, opts func(*Options)) *Result {
				t.Helper()
				recipe, err := ParseDockerfile("Dockerfile", strings.NewReader(df), nil)
				if err != nil {
					t.Fatal(err)
				}
				o := Options{ContextDir: dir, Recipe: recipe, Repository: repo, Revision: revision, Created: commitTime, Keychain: authn.NewMultiKeychain()}
				if opts != nil {
					opts(&o)
				}
				res, err := Build(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			first := build(dockerfile, nil)
			if tt.between != nil {
				tt.between(t, reg, repo, dir)
			}
			df := tt.dockerfile
			if df == "" {
				df = dockerfile
			}
			writes := reg.writes.Load()
			second := build(df, tt.opts)
			if got := second.Digest == first.Digest; got != tt.wantSame {
				t.Errorf("second digest %s, first %s: same = %v, want %v", second.Digest, first.Digest, got, tt.wantSame)
			}
			if second.Pushed != tt.wantPushed {
				t.Errorf("Pushed = %v, want %v", second.Pushed, tt.wantPushed)
			}
			if n := reg.writes.Load() - writes; (n > 0) != tt.wantWrites {
				t.Errorf("%d write requests, want any: %v", n, tt.wantWrites)
			}
			d, err := remote.Head(repo.Tag("sha-" + revision[:12]))
			if err != nil {
				t.Fatal(err)
			}
			if d.Digest != second.Digest {
				t.Errorf("tag points to %s, want %s", d.Digest, second.Digest)
			}
		})
	}
}

func TestBuildKey(t *testing.T) {
	recipe := func(t *testing.T, df string) *Recipe {
		t.Helper()
		r, err := ParseDockerfile("Dockerfile", strings.NewReader(df), nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const df = "FROM scratch\nCOPY app /app\n"
	meta := imageMeta{source: "https://github.com/acme/shop", revision: revision, created: commitTime}
	key := func(t *testing.T, r *Recipe, base string, p *v1.Platform, m imageMeta) string {
		t.Helper()
		k, err := buildKey(r, base, p, nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	want := key(t, recipe(t, df), "scratch", nil, meta)
	if again := key(t, recipe(t, "# a comment moves every line\n\n"+df), "scratch", nil, meta); again != want {
		t.Errorf("line numbers changed the key: %s, want %s", again, want)
	}
	other := meta
	other.key = "ignored: the key is not an input"
	if got := key(t, recipe(t, df), "scratch", nil, other); got != want {
		t.Errorf("key changed with meta.key: %s, want %s", got, want)
	}
	tests := []struct {
		name string
		got  func(t *testing.T) string
	}{
		{"step", func(t *testing.T) string {
			return key(t, recipe(t, "FROM scratch\nCOPY app /srv\n"), "scratch", nil, meta)
		}},
		{"earlier stage", func(t *testing.T) string {
			return key(t, recipe(t, "FROM scratch AS x\nCOPY README.md /\n"+df), "scratch", nil, meta)
		}},
		{"base digest", func(t *testing.T) string {
			return key(t, recipe(t, df), "r.example/base@sha256:"+strings.Repeat("0", 64), nil, meta)
		}},
		{"platform", func(t *testing.T) string {
			return key(t, recipe(t, df), "scratch", &v1.Platform{OS: "linux", Architecture: "arm64"}, meta)
		}},
		{"source", func(t *testing.T) string { m := meta; m.source = ""; return key(t, recipe(t, df), "scratch", nil, m) }},
		{"revision", func(t *testing.T) string {
			m := meta
			m.revision = strings.Repeat("f", 40)
			return key(t, recipe(t, df), "scratch", nil, m)
		}},
		{"created", func(t *testing.T) string {
			m := meta
			m.created = commitTime.Add(time.Second)
			return key(t, recipe(t, df), "scratch", nil, m)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(t); got == want {
				t.Errorf("key unchanged: %s", got)
			}
		})
	}
}

// writeFile replaces the content of a file of the context.
func writeFile(t *testing.T, dir, p, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
