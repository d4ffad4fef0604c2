package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDemoRelativeDir: `conveyor demo --dir rel/path` runs the whole chain
// as with an absolute directory: its paths end up in conveyor.yaml and in
// git remotes, read from elsewhere.
func TestDemoRelativeDir(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--dir", "rel/demo"}, &out, &errb); code != 0 {
		t.Fatalf("conveyor demo --dir rel/demo: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	wd, _ := os.Getwd()
	if !bytes.Contains(out.Bytes(), []byte(filepath.Join(wd, "rel", "demo", "data"))) {
		t.Errorf("output does not name the absolute data directory:\n%s", out.String())
	}
}
