package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestInitPromotesEachLayout is issue #16's "done when": on a copy of
// each fixture layout, the conveyor.yaml init writes validates, and a
// hand promotion of a built digest into the first environment (released
// automatically) lands in the base branch as exactly one edited file that
// pins the digest.
func TestInitPromotesEachLayout(t *testing.T) {
	for _, tc := range []struct {
		layout   string
		app, env string
		repoPath string // the app's image repository below the registry host
		tag      string // promoted as IMAGE:TAG@DIGEST when set
		file     string // the one file the environment's strategy edits
		// the file's lines the promotion removes and adds, in order
		removed func(image string) []string
		added   func(image, digest string) []string
	}{
		{layout: "kustomize", app: "podinfo", env: "dev", repoPath: "stefanprodan/podinfo",
			file:    "apps/podinfo/overlays/dev/kustomization.yaml",
			removed: func(string) []string { return []string{"    digest: sha256:" + strings.Repeat("1", 64)} },
			added:   func(_, digest string) []string { return []string{"    digest: " + digest} }},
		// The chart's template writes "repository:tag", so helm.tag is
		// written as TAG@DIGEST: promote refuses a digest alone when the
		// image has no revision label to name the tag. The repository
		// is pinned beside it, in the environment's own values file.
		{layout: "helm", app: "web", env: "dev", repoPath: "acme/web", tag: "1.2.0",
			file:    "charts/web/values-dev.yaml",
			removed: func(string) []string { return []string{`  tag: "1.1.0@sha256:` + strings.Repeat("2", 64) + `"`} },
			added: func(image, digest string) []string {
				return []string{`  tag: "1.2.0@` + digest + `"`, "  repository: " + image}
			}},
		{layout: "raw", app: "api", env: "dev", repoPath: "acme/api",
			file: "envs/dev/api.yaml",
			removed: func(image string) []string {
				return []string{"          image: " + image + "@sha256:" + strings.Repeat("3", 64)}
			},
			added: func(image, digest string) []string { return []string{"          image: " + image + "@" + digest} }},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			host, digest := registryHolding(t, tc.repoPath)
			image := host + "/" + tc.repoPath
			// The fixtures name public registries; the copy names one
			// that holds the image, so promote's registry check is real.
			repo := fixtureRepo(t, tc.layout, func(files map[string]string) {
				for p, s := range files {
					s = strings.ReplaceAll(s, "ghcr.io/", host+"/")
					files[p] = strings.ReplaceAll(s, "registry.example.com/", host+"/")
				}
			})
			if err := repo.AcceptPushes(); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(t.TempDir(), "data")
			if code, _, errOut := runCLI(t, "init", "--path", repo.Dir, "--reviewers", "alice", "--source", "acme", "--data-dir", data); code != 0 {
				t.Fatalf("init exited %d: %s", code, errOut)
			}
			written, err := os.ReadFile(filepath.Join(repo.Dir, "conveyor.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			base, err := repo.Commit(map[string]string{"conveyor.yaml": string(written)}, "add conveyor.yaml", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if code, out, errOut := runCLI(t, "validate", "--repo", repo.Dir); code != 0 || !strings.Contains(out, "valid (") {
				t.Fatalf("validate --repo exited %d: %s%s\n%s", code, out, errOut, written)
			}

			ref := image + "@" + digest
			if tc.tag != "" {
				ref = image + ":" + tc.tag + "@" + digest
			}
			code, out, errOut := runCLI(t, "promote", tc.app, tc.env, ref, "--data-dir", data, "--gitops", repo.Dir)
			if code != 0 || !strings.Contains(out, "merged #1") {
				t.Fatalf("promote exited %d: %s%s\nconveyor.yaml:\n%s", code, out, errOut, written)
			}

			if changed := gitOut(t, repo.Dir, "diff", "--name-only", base.Hash.String(), "main"); changed != tc.file {
				t.Errorf("promotion changed %q, want only %s", changed, tc.file)
			}
			removed, added := changedLines(gitOut(t, repo.Dir, "diff", "-U0", base.Hash.String(), "main", "--", tc.file))
			if want := tc.removed(image); !slices.Equal(removed, want) {
				t.Errorf("the promotion removed from %s\n%q\nwant\n%q", tc.file, removed, want)
			}
			if want := tc.added(image, digest); !slices.Equal(added, want) {
				t.Errorf("the promotion added to %s\n%q\nwant\n%q", tc.file, added, want)
			}
		})
	}
}

// changedLines returns the lines a unified diff removes and adds.
func changedLines(diff string) (removed, added []string) {
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
		case strings.HasPrefix(l, "-"):
			removed = append(removed, l[1:])
		case strings.HasPrefix(l, "+"):
			added = append(added, l[1:])
		}
	}
	return removed, added
}

// registryHolding serves a registry holding one random image at
// repoPath and returns its host and the image's digest.
func registryHolding(t *testing.T, repoPath string) (host, digest string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repoPath+":sha-1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return host, d.String()
}

// gitOut runs git in dir and returns its trimmed output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
