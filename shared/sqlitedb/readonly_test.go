package sqlitedb_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

const helperEnv = "SQLITEDB_TEST_OPEN_DIR"

// TestOpenNamesAnUnwritableDataDir: a data directory its owner made
// read-only must be named in the error, not reported as SQLite's "unable
// to open database file (14)". Root writes anywhere, so as root the check
// runs in a copy of this test binary as the unprivileged uid 65534.
func TestOpenNamesAnUnwritableDataDir(t *testing.T) {
	if dir := os.Getenv(helperEnv); dir != "" {
		_, err := sqlitedb.Open(context.Background(), dir)
		fmt.Printf("open error: %v\n", err)
		if !errors.Is(err, sqlitedb.ErrNotWritable) {
			t.Errorf("Open: %v, want ErrNotWritable", err)
		}
		return
	}
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	seed(t, dir, 1)
	if os.Getuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		_, err := sqlitedb.Open(context.Background(), dir)
		if !errors.Is(err, sqlitedb.ErrNotWritable) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Open: %v, want ErrNotWritable naming %s", err, dir)
		}
		return
	}
	const nobody = 65534
	bin := filepath.Join(root, "sqlitedb.test")
	copyFile(t, os.Args[0], bin)
	for _, p := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestOpenNamesAnUnwritableDataDir$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Open as uid %d: %v\n%s", nobody, err, out)
	}
	for _, want := range []string{"the data directory " + dir + " is not writable by this user (uid 65534)", "--data-dir"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Open as uid %d says\n%s\nwant it to say %q", nobody, out, want)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}
