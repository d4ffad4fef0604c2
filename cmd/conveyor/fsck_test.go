package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fsckDataDir is a data directory as `conveyor dev` leaves it: a database
// and an embedded registry holding two images.
func fsckDataDir(t *testing.T) (dir string, layer string) {
	t.Helper()
	ctx := context.Background()
	dir = filepath.Join(t.TempDir(), "data")
	rt, err := local.Open(ctx, local.Options{DataDir: dir, RegistryAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	srv := httptest.NewServer(rt.Registry)
	defer srv.Close()
	for i, tag := range []string{"one", "two"} {
		img, _ := random.Image(256, 1)
		ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/acme/web:"+tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ls, _ := img.Layers()
			d, _ := ls[0].Digest()
			layer = d.Hex
		}
	}
	return dir, layer
}

func fsck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"fsck"}, args...), &out, &errb)
	return code, out.String() + errb.String()
}

func TestFsck(t *testing.T) {
	dir, layer := fsckDataDir(t)
	if code, out := fsck(t, "--data-dir", dir); code != 0 || !strings.Contains(out, "database and registry ok") {
		t.Fatalf("fsck of a sound data directory: exit %d\n%s", code, out)
	}
	// A 0-byte database, a damaged journal line and a missing blob.
	if err := os.WriteFile(filepath.Join(dir, sqlitedb.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(filepath.Join(dir, sqlitedb.FileName+suffix))
	}
	journal := filepath.Join(dir, "registry", ociregistry.JournalName)
	b, _ := os.ReadFile(journal)
	lines := strings.SplitAfter(string(b), "\n")
	lines[1] = "}{" + lines[1][2:]
	if err := os.WriteFile(journal, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "registry", "blobs", "sha256", layer)); err != nil {
		t.Fatal(err)
	}
	// conveyor dev refuses to start on it, pointing at fsck.
	_, err := local.Open(context.Background(), local.Options{DataDir: dir, RegistryAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "conveyor fsck --repair --data-dir "+dir) {
		t.Errorf("opening the damaged data directory: %v, want a pointer to fsck --repair", err)
	}

	code, out := fsck(t, "--data-dir", dir)
	for _, want := range []string{filepath.Join(dir, sqlitedb.FileName) + " is empty or missing",
		"registry: " + journal + ":2: unreadable", "references missing or damaged layer blob sha256:" + layer, "--repair"} {
		if !strings.Contains(out, want) {
			t.Errorf("fsck output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("fsck of a damaged data directory: exit %d, want 1", code)
	}

	// Not while a runtime serves the directory.
	holder, err := local.Open(context.Background(), local.Options{DataDir: t.TempDir(), RegistryAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	busy := filepath.Dir(holder.DB.Path())
	if code, out := fsck(t, "--repair", "--data-dir", busy); code != 1 || !strings.Contains(out, busy) || !strings.Contains(out, "another conveyor process") {
		t.Errorf("fsck --repair of a data directory in use: exit %d\n%s", code, out)
	}
	holder.Close()

	code, out = fsck(t, "--repair", "--data-dir", dir)
	for _, want := range []string{filepath.Join(dir, sqlitedb.LostFound), "conveyor reconcile", "no longer served: acme/web@sha256:", "nothing was deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("fsck --repair output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("fsck --repair: exit %d\n%s", code, out)
	}
	if code, out := fsck(t, "--data-dir", dir); code != 0 {
		t.Errorf("fsck after repair: exit %d\n%s", code, out)
	}
	rt, err := local.Open(context.Background(), local.Options{DataDir: dir, RegistryAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("opening the repaired data directory: %v", err)
	}
	rt.Close()
	// What fsck wrote is private to the owner.
	_ = filepath.Walk(filepath.Join(dir, sqlitedb.LostFound), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", p, fi.Mode().Perm())
		}
		return nil
	})
}

// TestReadCommandsReportALostDatabase: a deleted database in a data
// directory that held state is reported as lost, with the way out, not as
// a directory with no data yet.
func TestReadCommandsReportALostDatabase(t *testing.T) {
	dir, _ := fsckDataDir(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(filepath.Join(dir, sqlitedb.FileName+suffix))
	}
	for _, args := range [][]string{{"queues"}, {"status"}, {"replay", "list"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, "--data-dir", dir), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "database lost") || !strings.Contains(errb.String(), "conveyor fsck --repair") {
			t.Errorf("conveyor %s: exit %d, stderr %q; want the lost database reported", strings.Join(args, " "), code, errb.String())
		}
	}
}
