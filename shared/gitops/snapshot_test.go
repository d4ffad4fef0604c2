package gitops

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestSnapshot(t *testing.T) {
	ctx := testContext(t)
	_, url := transports[0].setup(t)
	r := &Repo{URL: url, Base: "main"}
	s, err := r.newSession()
	if err != nil {
		t.Fatal(err)
	}
	commits, err := r.fetch(ctx, s, "main")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := newSnapshot(s.st, commits[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(snap, "README.md", "conveyor.yaml", "base/deployment.yaml", "envs/dev/kustomization.yaml", "envs/prod/kustomization.yaml"); err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(snap, "envs/dev/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seedFiles["envs/dev/kustomization.yaml"], string(got)); diff != "" {
		t.Errorf("ReadFile (-want +got):\n%s", diff)
	}
	entries, err := fs.ReadDir(snap, "envs")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"dev", "prod"}, names); diff != "" {
		t.Errorf("ReadDir(envs) (-want +got):\n%s", diff)
	}
	for _, name := range []string{"/README.md", "missing.yaml", "envs/dev/kustomization.yaml/x"} {
		if _, err := fs.ReadFile(snap, name); err == nil {
			t.Errorf("ReadFile(%q) succeeded", name)
		}
	}
	if _, err := snap.Open("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
}
