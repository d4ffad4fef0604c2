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

func TestSelfCommand(t *testing.T) {
	dir := t.TempDir()
	onPath := filepath.Join(dir, "conveyor")
	if err := os.WriteFile(onPath, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	found := func(string) (string, error) { return onPath, nil }
	missing := func(string) (string, error) { return "", os.ErrNotExist }
	tests := []struct {
		arg0   string
		lookup func(string) (string, error)
		want   string
	}{
		{"/tmp/go-build123/b001/exe/conveyor", missing, "go run ./cmd/conveyor"},
		{"conveyor", found, "conveyor"},
		{"./bin/conveyor", missing, "./bin/conveyor"},
		{"bin/conveyor", missing, "./bin/conveyor"},
		{onPath, found, "conveyor"},
		{"/opt/conveyor/conveyor", found, "/opt/conveyor/conveyor"},
	}
	for _, tt := range tests {
		if got := selfCommand(tt.arg0, tt.lookup); got != tt.want {
			t.Errorf("selfCommand(%q) = %q, want %q", tt.arg0, got, tt.want)
		}
	}
}
