package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestBuildContextSymlinkStaysInTheRepository builds a context that is a
// committed symlink: one leaving the repository is refused as the build
// function refuses it, one inside builds.
func TestBuildContextSymlinkStaysInTheRepository(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		refused      bool
	}{
		{"upwards", "../..", true},
		{"inside", "app", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			if err := os.WriteFile(filepath.Join(top, "secret.txt"), []byte("private\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(top, "repo")
			r, err := git.PlainInit(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			for p, content := range map[string]string{"app/Dockerfile": "FROM scratch\nCOPY . /ctx/\n", "app/index.html": "hi\n"} {
				full := filepath.Join(dir, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(tc.target, filepath.Join(dir, "ctx")); err != nil {
				t.Fatal(err)
			}
			wt, _ := r.Worktree()
			if err := wt.AddGlob("."); err != nil {
				t.Fatal(err)
			}
			sig := &object.Signature{Name: "dev", Email: "dev@example.com", When: time.Unix(1700000000, 0)}
			if _, err := wt.Commit("app", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"build", "--context", filepath.Join(dir, "ctx"), "--dockerfile", filepath.Join(dir, "app", "Dockerfile")}, &stdout, &stderr)
			switch {
			case tc.refused && (code != 1 || !strings.Contains(stderr.String(), `build context path "ctx"`)):
				t.Fatalf("build: exit %d (%s%s), want a refusal naming ctx", code, stdout.String(), stderr.String())
			case !tc.refused && code != 0:
				t.Fatalf("build: exit %d: %s", code, stderr.String())
			}
		})
	}
}

// TestBuildPrintsTheReference: stdout is the reference alone, one line, so
// that $(conveyor build …) composes; --image-refs writes it to a file; the
// report on stderr starts with the same word whether the image was pushed
// or already there.
func TestBuildPrintsTheReference(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/web"
	dir := t.TempDir()
	for p, content := range map[string]string{"Dockerfile": "FROM scratch\nCOPY index.html /srv/\n", "index.html": "hi\n"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"build", "--context", dir, "--revision", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "--created", "2026-11-20T10:00:00Z"}
	digest := regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)
	ref := regexp.MustCompile(`^` + regexp.QuoteMeta(repo) + `@sha256:[0-9a-f]{64}\n$`)
	var first string
	for _, tc := range []struct {
		name    string
		args    []string
		stdout  *regexp.Regexp
		outcome string
	}{
		{"no push", nil, digest, "(not pushed: no --push)"},
		{"pushed", []string{"--push", repo}, ref, "(pushed)"},
		{"already there", []string{"--push", repo}, ref, "(already in the registry)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs := filepath.Join(t.TempDir(), "refs")
			code, out, errOut := runCLI(t, append(append(common, tc.args...), "--image-refs", refs)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !tc.stdout.MatchString(out) {
				t.Fatalf("stdout %q, want the reference alone on one line", out)
			}
			if word, _, _ := strings.Cut(errOut, " "); word != "image" || !strings.Contains(errOut, strings.TrimSpace(out)+" "+tc.outcome) {
				t.Errorf("stderr starts %q, want \"image\" and %q:\n%s", word, tc.outcome, errOut)
			}
			if b, err := os.ReadFile(refs); err != nil || string(b) != out {
				t.Errorf("--image-refs holds %q (%v), want %q", b, err, out)
			}
			d := out[strings.Index(out, "sha256:"):]
			if first == "" {
				first = d
			} else if d != first {
				t.Errorf("digest %s, want the same bytes as before: %s", d, first)
			}
		})
	}
}

// TestBuildPlatforms builds one Dockerfile for two platforms, the flag
// repeated or given a comma list: the result is one OCI index with both,
// each platform's image holding the file its TARGETARCH chose, pushed or
// written to an OCI layout with the same digest. Bad platforms and a
// destination given twice are usage errors.
func TestBuildPlatforms(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/multi"
	dir := t.TempDir()
	for p, content := range map[string]string{
		"Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}.txt /arch.txt\n",
		"amd64.txt":  "amd64\n", "arm64.txt": "arm64\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	layoutDir := filepath.Join(t.TempDir(), "layout")
	common := []string{"build", "--context", dir, "--revision", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "--created", "2026-11-20T10:00:00Z"}
	var digest string
	for _, tc := range []struct {
		name string
		args []string
		ref  string // the reference's part before '@'
	}{
		{"comma list", []string{"--platform", "linux/amd64,linux/arm64", "--push", repo}, repo},
		{"repeated", []string{"--platform", "linux/amd64", "--platform", "linux/arm64", "--push", repo}, repo},
		{"oci layout", []string{"--platform", "linux/amd64,linux/arm64", "--oci-layout", layoutDir}, layoutDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(common, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			at, d, ok := strings.Cut(strings.TrimSpace(out), "@")
			if !ok || at != tc.ref {
				t.Fatalf("stdout %q, want %s@sha256:…", out, tc.ref)
			}
			if digest == "" {
				digest = d
			} else if d != digest {
				t.Errorf("digest %s, want the same index as before: %s", d, digest)
			}
		})
	}

	ref, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("reading the pushed index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Platform.String()+" "+strings.TrimSpace(fileIn(t, img, "arch.txt")))
	}
	if diff := cmp.Diff([]string{"linux/amd64 amd64", "linux/arm64 arm64"}, got); diff != "" {
		t.Errorf("index platforms and their files (-want +got):\n%s", diff)
	}
	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	li, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	lm, err := li.IndexManifest()
	if err != nil || len(lm.Manifests) != 1 || lm.Manifests[0].Digest.String() != digest {
		t.Errorf("the layout's index.json = %+v (%v), want the one index %s", lm, err, digest)
	}

	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"no arch", "platform \"linux\"", []string{"--platform", "linux"}},
		{"twice", "listed twice", []string{"--platform", "linux/amd64,linux/amd64"}},
		{"push and layout", "exclusive", []string{"--push", repo, "--oci-layout", layoutDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append(common, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d: %s; want a usage error (2) saying %q", code, errOut, tc.want)
			}
		})
	}
}

// fileIn returns the content of path (no leading slash) in img's layers.
func fileIn(t *testing.T, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the image: %v", path, err)
		}
		if h.Name == path {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// TestBuildIgnoredContextIsRead builds, at the same clean commit, a
// context holding an ignored file (binaries built into bin/ for an image,
// as `make image` does) whose content changed: the revision does not name
// those bytes, so the second build must read them and give a new digest
// rather than trust the image the commit's tag already holds.
func TestBuildIgnoredContextIsRead(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/app"
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range map[string]string{".gitignore": "/bin/\n", "Dockerfile": "FROM scratch\nCOPY bin/app /app\n"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wt, _ := r.Worktree()
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "dev", Email: "dev@example.com", When: time.Unix(1700000000, 0)}
	if _, err := wt.Commit("app", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, build := range []string{"one\n", "two\n"} {
		if err := os.WriteFile(filepath.Join(dir, "bin", "app"), []byte(build), 0o755); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "build", "--context", dir, "--push", repo)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		digests = append(digests, strings.TrimSpace(out))
	}
	if digests[0] == digests[1] {
		t.Errorf("both builds gave %s: the changed ignored file was not read", digests[0])
	}
}
