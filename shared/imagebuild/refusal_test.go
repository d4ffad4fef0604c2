package imagebuild

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"

	"fmt"
	"github.com/google/go-containerregistry/pkg/authn"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestBuildRefusals(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base/alpine", v1.Platform{OS: "linux", Architecture: "amd64"})
	tests := []struct {
		name       string
		files      map[string]string
		setup      func(t *testing.T, dir string)
		dockerfile string
		want       string
		kind       error
	}{{
		name:       "RUN",
		dockerfile: "FROM " + base + "\nCOPY a /a\nRUN make\n",
		want:       "Dockerfile:3: RUN is not supported: Conveyor builds without a container runtime; build binaries in CI and COPY them",
		kind:       ErrInvalidRecipe,
	}, {
		name:       "ADD of a URL",
		dockerfile: "FROM " + base + "\nADD http://example.com/tool /usr/bin/tool\n",
		want:       "Dockerfile:2: ADD of a URL is not supported: http://example.com/tool; download it in CI, check its digest and COPY it",
		kind:       ErrInvalidRecipe,
	}, {
		name:       "HEALTHCHECK",
		dockerfile: "FROM " + base + "\nHEALTHCHECK NONE\n",
		want:       "Dockerfile:2: HEALTHCHECK is not supported: declare probes in the Kubernetes manifest instead",
		kind:       ErrInvalidRecipe,
	}, {
		name:       "COPY --from an unknown stage",
		dockerfile: "FROM " + base + "\nCOPY --from=builder /out /app\n",
		want:       `Dockerfile:2: COPY --from=builder: no earlier stage is named "builder" (copying from an image is not supported)`,
		kind:       ErrInvalidRecipe,
	}, {
		name:       "symlink leaving the context",
		files:      map[string]string{"app/passwd": "->/etc/passwd"},
		dockerfile: "FROM " + base + "\nCOPY app/passwd /etc/passwd\n",
		want:       `Dockerfile:2: COPY: build context path "app/passwd": symlink to "/etc/passwd" leaves the build context`,
		kind:       ErrInvalidContext,
	}, {
		name:       "symlink climbing out inside a copied directory",
		files:      map[string]string{"app/ok": "x", "app/sub/up": "->../../../secret"},
		dockerfile: "FROM " + base + "\nCOPY app /app\n",
		want:       `Dockerfile:2: COPY: build context path "app/sub/up": symlink to "../../../secret" leaves the build context`,
		kind:       ErrInvalidContext,
	}, {
		name:       "symlinked directory leaving the context in the source path",
		files:      map[string]string{"etc": "->/etc"},
		dockerfile: "FROM " + base + "\nCOPY etc/hostname /x\n",
		want:       `Dockerfile:2: COPY: build context path "etc/hostname": symlink "etc" to "/etc" leaves the build context`,
		kind:       ErrInvalidContext,
	}, {
		name:       "../ source",
		dockerfile: "FROM " + base + "\nCOPY ../secret /x\n",
		want:       `Dockerfile:2: COPY: build context path "../secret": is outside the build context`,
		kind:       ErrInvalidContext,
	}, {
		name:       "absolute source",
		dockerfile: "FROM " + base + "\nCOPY /etc/passwd /x\n",
		want:       `Dockerfile:2: COPY: build context path "/etc/passwd": is absolute; COPY sources are relative to the build context`,
		kind:       ErrInvalidContext,
	}, {
		name:       "missing source",
		dockerfile: "FROM " + base + "\nCOPY nope.txt /x\n",
		want:       `Dockerfile:2: COPY: build context path "nope.txt": does not exist`,
		kind:       ErrInvalidContext,
	}, {
		name: "fifo",
		setup: func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "app", "pipe"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		files:      map[string]string{"app/ok": "x"},
		dockerfile: "FROM " + base + "\nCOPY app /app\n",
		want:       `Dockerfile:2: COPY: build context path "app/pipe": is a named pipe (fifo); only regular files, directories and symlinks can be copied`,
		kind:       ErrInvalidContext,
	}, {
		name:       "source excluded by .dockerignore",
		files:      map[string]string{".dockerignore": "*.key\n", "tls.key": "secret"},
		dockerfile: "FROM " + base + "\nCOPY tls.key /x\n",
		want:       `Dockerfile:2: COPY: build context path "tls.key": is excluded by .dockerignore`,
		kind:       ErrInvalidContext,
	}, {
		name:       "wildcard matching nothing",
		dockerfile: "FROM " + base + "\nCOPY *.go /src/\n",
		want:       `Dockerfile:2: COPY: build context path "*.go": matches no files`,
		kind:       ErrInvalidContext,
	}, {
		name:       "several sources into a file",
		files:      map[string]string{"a": "a", "b": "b"},
		dockerfile: "FROM " + base + "\nCOPY a b /dst\n",
		want:       `Dockerfile:2: COPY: with more than one source, the destination "/dst" must be a directory ending in /`,
		kind:       ErrInvalidRecipe,
	}, {
		name:       "ADD of an archive",
		files:      map[string]string{"tool.tar.gz": "\x1f\x8b\x08\x00rest"},
		dockerfile: "FROM " + base + "\nADD tool.tar.gz /opt/\n",
		want:       `Dockerfile:2: ADD: build context path "tool.tar.gz": is an archive ADD would unpack; Conveyor does not unpack archives: COPY it as is, or unpack it in CI`,
		kind:       ErrInvalidContext,
	}, {
		name:       "COPY --from a file the stage's base image holds",
		dockerfile: "FROM " + base + " AS tools\nFROM scratch\nCOPY --from=tools /bin/sh /sh\n",
		want:       `Dockerfile:3: COPY: build context path "/bin/sh": is not copied into stage "tools" (files of a stage's base image cannot be read)`,
		kind:       ErrInvalidContext,
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"a": "a"}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := writeContext(t, files, time.Now())
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			writes := reg.writes.Load()
			repo := reg.repo(t, fmt.Sprintf("refused/case%d", i))
			_, err := buildDockerfile(t, dir, tt.dockerfile, repo)
			if err == nil {
				t.Fatal("Build() succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tt.kind) || !IsPermanent(err) {
				t.Errorf("error %v: want %v and permanent", err, tt.kind)
			}
			if n := reg.writes.Load() - writes; n != 0 {
				t.Errorf("%d write requests reached the registry, want 0", n)
			}
			if tags, err := remote.List(repo); err == nil && len(tags) > 0 {
				t.Errorf("repository has tags %v, want none", tags)
			}
		})
	}
}

func TestIsPermanent(t *testing.T) {
	reg := newRegistry(t)
	dir := writeContext(t, map[string]string{"a": "a"}, time.Now())
	_, err := buildDockerfile(t, dir, "FROM "+reg.host+"/no/such:image\nCOPY a /a\n", reg.repo(t, "acme/x"))
	if err == nil || !IsPermanent(err) {
		t.Errorf("missing base: %v, want a permanent error", err)
	}
	if IsPermanent(errors.New("connection reset")) || IsPermanent(os.ErrDeadlineExceeded) {
		t.Error("plain network errors must be transient")
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	host := strings.TrimPrefix(down.URL, "http://")
	recipe, err := ParseDockerfile("Dockerfile", strings.NewReader("FROM "+host+"/base:1\nCOPY a /a\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), Options{
		ContextDir: dir, Recipe: recipe, Repository: reg.repo(t, "acme/x"),
		Revision: revision, Created: commitTime, Keychain: authn.NewMultiKeychain(),
		RemoteOptions: []remote.Option{remote.WithRetryBackoff(remote.Backoff{Steps: 1})},
	})
	if err == nil || IsPermanent(err) {
		t.Errorf("registry answering 503: %v, want a transient error", err)
	}

	_, err = Build(context.Background(), Options{})
	if !errors.Is(err, ErrInvalidOptions) || !IsPermanent(err) {
		t.Errorf("empty options: %v, want ErrInvalidOptions", err)
	}
}
