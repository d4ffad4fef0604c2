package sqlitedb_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

// withUmask runs the test under a typical umask, so that modes the code does
// not set itself would come out group- and world-readable.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// modes returns the permission bits of each path relative to dir; absent
// paths are left out.
func modes(t *testing.T, dir string, rels ...string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	for _, rel := range rels {
		fi, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatalf("stat %s: %v", rel, err)
		}
		out[rel] = fi.Mode().Perm()
	}
	return out
}

func TestOpenKeepsDataPrivate(t *testing.T) {
	withUmask(t, 0o022)
	db := sqlitedb.FileName
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string // what Restrict reports it tightened
	}{
		{name: "new directory", setup: func(*testing.T, string) {}},
		{name: "existing world-readable directory and files, and a file not Conveyor's", setup: func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "registry", "blobs"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{db, db + "-wal", db + "-shm", "registry/manifests.jsonl", "notes.txt"} {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}, want: []string{".", db, db + "-shm", db + "-wal", "registry", "registry/blobs", "registry/manifests.jsonl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tc.setup(t, dir)
			got, err := sqlitedb.Restrict(dir, "registry")
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i], _ = filepath.Rel(dir, got[i])
				got[i] = filepath.ToSlash(got[i])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Restrict tightened (-want +got):\n%s", diff)
			}
			d, err := sqlitedb.Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			// A write makes SQLite create the -wal and -shm files.
			if err := d.Migrate(context.Background(), "CREATE TABLE IF NOT EXISTS t (x)"); err != nil {
				t.Fatal(err)
			}
			if err := d.Write(context.Background(), func(tx *sql.Tx) error {
				_, err := tx.Exec("INSERT INTO t VALUES (1)")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			want := map[string]fs.FileMode{".": 0o700, db: 0o600, db + "-wal": 0o600, db + "-shm": 0o600}
			if diff := cmp.Diff(want, modes(t, dir, ".", db, db+"-wal", db+"-shm")); diff != "" {
				t.Errorf("modes after Open (-want +got):\n%s", diff)
			}
			// A file that is not Conveyor's keeps its mode.
			if tc.want != nil {
				if got := modes(t, dir, "notes.txt")["notes.txt"]; got != 0o644 {
					t.Errorf("notes.txt has mode %v, want it left at 0644", got)
				}
			}
		})
	}
}

// TestOpenTightensWithoutRestrict covers callers (CLI commands) that open
// the database directly: Open itself fixes the directory and its files.
func TestOpenTightensWithoutRestrict(t *testing.T) {
	withUmask(t, 0o022)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := sqlitedb.FileName
	if err := os.WriteFile(filepath.Join(dir, db), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := sqlitedb.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Migrate(context.Background(), "CREATE TABLE IF NOT EXISTS t (x)"); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{".": 0o700, db: 0o600, db + "-wal": 0o600, db + "-shm": 0o600}
	if diff := cmp.Diff(want, modes(t, dir, ".", db, db+"-wal", db+"-shm")); diff != "" {
		t.Errorf("modes after Open (-want +got):\n%s", diff)
	}
}
