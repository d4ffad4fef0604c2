package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInitDiscoveredAppsImport runs init on two apps laid out alike: the
// file proposes a discover rule, and the apps it finds in the repository
// still get their starting releases recorded, as listed apps do.
func TestInitDiscoveredAppsImport(t *testing.T) {
	repo := fixtureRepo(t, "kustomize")
	files := map[string]string{}
	src := filepath.Join(repo.Dir, "apps", "podinfo")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(src, p)
		files["apps/web/"+filepath.ToSlash(rel)] = strings.ReplaceAll(string(data), "podinfo", "web")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(files, "a second app, laid out like the first", time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	code, out, errOut := runCLI(t, "init", "--path", repo.Dir, "--reviewers", "alice", "--source", "acme", "--data-dir", data)
	if code != 0 {
		t.Fatalf("init exited %d: %s", code, errOut)
	}
	written, err := os.ReadFile(filepath.Join(repo.Dir, "conveyor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(written), `pattern: "apps/{app}/overlays/{env}"`) {
		t.Errorf("init proposed no discover rule:\n%s", written)
	}
	for _, want := range []string{"podinfo/dev  sha256:1111", "web/dev  sha256:1111"} {
		if !strings.Contains(out, want) {
			t.Errorf("init did not record %q:\n%s", want, out)
		}
	}
}
