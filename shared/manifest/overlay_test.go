package manifest

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestOverlay checks the overlaid view against fstest.TestFS and reads
// back edited, new and untouched files.
func TestOverlay(t *testing.T) {
	base := fstest.MapFS{
		"envs/dev/kustomization.yaml": {Data: []byte("old\n"), Mode: 0o644},
		"base/scripts/run.sh":         {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		"README.md":                   {Data: []byte("hi\n")},
	}
	writes := map[string][]byte{
		"envs/dev/kustomization.yaml": []byte("new\n"),
		"envs/prod/values.yaml":       []byte("added\n"),
	}
	o := Overlay(base, writes)
	if err := fstest.TestFS(o, "envs/dev/kustomization.yaml", "envs/prod/values.yaml", "base/scripts/run.sh", "README.md"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"envs/dev/kustomization.yaml": "new\n",
		"envs/prod/values.yaml":       "added\n",
		"base/scripts/run.sh":         "#!/bin/sh\n",
	} {
		got, err := fs.ReadFile(o, name)
		if err != nil || string(got) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	entries, err := fs.ReadDir(o, "envs")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"dev", "prod"}, names); diff != "" {
		t.Errorf("envs (-want +got):\n%s", diff)
	}
	if got, _ := fs.ReadFile(base, "envs/dev/kustomization.yaml"); string(got) != "old\n" {
		t.Errorf("the base changed: %q", got)
	}
}
