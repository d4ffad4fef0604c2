package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

// seed creates a database in dir holding rows rows of about 200 bytes and
// closes it, which checkpoints the write-ahead log into the file.
func seed(t *testing.T, dir string, rows int) {
	t.Helper()
	ctx := context.Background()
	d, err := sqlitedb.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Migrate(ctx, `CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS t_v ON t (v)`); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(ctx, func(tx *sql.Tx) error {
		for i := range rows {
			if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, strings.Repeat(string(rune('a'+i%26)), 200)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlitedb.FileName+"-wal")); err == nil {
		t.Fatal("the write-ahead log outlived Close: the damage below would not reach the file")
	}
}

func TestOpenRefusesALostDatabase(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr error
	}{
		{name: "first run", setup: func(*testing.T, string) {}},
		{name: "0-byte database in a new directory", setup: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, sqlitedb.FileName), "")
		}},
		{name: "0-byte database after it held tables", setup: func(t *testing.T, dir string) {
			seed(t, dir, 10)
			write(t, filepath.Join(dir, sqlitedb.FileName), "")
		}, wantErr: sqlitedb.ErrLost},
		{name: "database deleted after it held tables", setup: func(t *testing.T, dir string) {
			seed(t, dir, 10)
			if err := os.Remove(filepath.Join(dir, sqlitedb.FileName)); err != nil {
				t.Fatal(err)
			}
		}, wantErr: sqlitedb.ErrLost},
		{name: "0-byte database next to a registry journal, written before the marker existed", setup: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "registry", "manifests.jsonl"), `{"method":"PUT"}`+"\n")
			write(t, filepath.Join(dir, sqlitedb.FileName), "")
		}, wantErr: sqlitedb.ErrLost},
		{name: "empty database file with a valid header after it held tables", setup: func(t *testing.T, dir string) {
			seed(t, dir, 10)
			other := t.TempDir()
			db, err := sql.Open("sqlite", filepath.Join(other, "x.db"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`PRAGMA user_version = 1`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			b, err := os.ReadFile(filepath.Join(other, "x.db"))
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, sqlitedb.FileName), string(b))
		}, wantErr: sqlitedb.ErrLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tc.setup(t, dir)
			d, err := sqlitedb.Open(ctx, dir)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open: %v, want %v", err, tc.wantErr)
			}
			if err == nil {
				d.Close()
				return
			}
			for _, want := range []string{filepath.Join(dir, sqlitedb.FileName), "conveyor fsck --repair --data-dir " + dir, "conveyor reconcile"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			// fsck sees the same, and its repair lets the next start begin
			// empty, with the old file kept in lost+found.
			problems, err := sqlitedb.Inspect(ctx, dir)
			if err != nil || len(problems) != 1 {
				t.Fatalf("Inspect: %q, %v; want one problem", problems, err)
			}
			s, err := sqlitedb.Repair(ctx, dir)
			if err != nil || s == nil {
				t.Fatalf("Repair: %+v, %v", s, err)
			}
			d, err = sqlitedb.Open(ctx, dir)
			if err != nil {
				t.Fatalf("Open after repair: %v", err)
			}
			d.Close()
			if problems, err := sqlitedb.Inspect(ctx, dir); err != nil || len(problems) != 0 {
				t.Errorf("Inspect after repair: %q, %v", problems, err)
			}
		})
	}
}

func TestOpenRefusesADamagedDatabase(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	const rows = 2000
	seed(t, dir, rows)
	// Overwrite one page in the middle of the file with garbage, as a bad
	// sector or a torn write would.
	f, err := os.OpenFile(filepath.Join(dir, sqlitedb.FileName), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xde\xad\xbe\xef", 1024)), 40*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	_, err = sqlitedb.Open(ctx, dir)
	if !errors.Is(err, sqlitedb.ErrDamaged) {
		t.Fatalf("Open: %v, want ErrDamaged", err)
	}
	for _, want := range []string{filepath.Join(dir, sqlitedb.FileName), "conveyor fsck --repair --data-dir " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	problems, err := sqlitedb.Inspect(ctx, dir)
	if err != nil || len(problems) == 0 {
		t.Fatalf("Inspect: %q, %v; want problems", problems, err)
	}
	s, err := sqlitedb.Repair(ctx, dir)
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if got := s.Rows["t"]; got == 0 || got >= rows {
		t.Errorf("salvaged %d rows of t, want some but not all %d", got, rows)
	}
	if _, err := os.Stat(filepath.Join(s.Quarantine, sqlitedb.FileName)); err != nil {
		t.Errorf("the damaged file is not kept: %v", err)
	}
	if !strings.HasPrefix(s.Quarantine, filepath.Join(dir, sqlitedb.LostFound)) {
		t.Errorf("quarantine %s is not under lost+found", s.Quarantine)
	}
	d, err := sqlitedb.Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open after repair: %v", err)
	}
	defer d.Close()
	var n int
	if err := d.SQL().QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != s.Rows["t"] {
		t.Errorf("repaired database holds %d rows (%v), repair reported %d", n, err, s.Rows["t"])
	}
}

// TestCheckWriteOnAFullDisk makes every write to a regular file fail, as on
// a full disk: RLIMIT_FSIZE 0 makes write(2) return EFBIG for any byte a
// file would gain (Go ignores the SIGXFSZ that comes with it), while reads
// still work. The limit is the process's, so it is lifted at once.
func TestCheckWriteOnAFullDisk(t *testing.T) {
	ctx := context.Background()
	d, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.CheckWrite(ctx); err != nil {
		t.Fatalf("CheckWrite on a healthy disk: %v", err)
	}
	err = withFullDisk(t, func() error { return d.CheckWrite(ctx) })
	if err == nil || !strings.Contains(err.Error(), d.Path()) {
		t.Errorf("CheckWrite on a full disk: %v, want an error naming %s", err, d.Path())
	}
	if err := d.CheckWrite(ctx); err != nil {
		t.Errorf("CheckWrite once space is back: %v", err)
	}
}

func withFullDisk(t *testing.T, fn func() error) error {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	full := syscall.Rlimit{Cur: 0, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}()
	return fn()
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
