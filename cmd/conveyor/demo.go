package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/spf13/pflag"
)

func runDemo(fs *pflag.FlagSet) runFunc {
	dir := fs.String("dir", "", "directory for the demo's repositories and data (default: a new temporary directory)")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		fmt.Fprintln(stdout, "Conveyor demo: the pipeline on embedded defaults (no AWS, no Docker, no network).")
		_, err := demo.Run(ctx, stdout, demo.Options{Dir: *dir, All: true, Command: selfCommand(os.Args[0], exec.LookPath)})
		return err
	}
}

// selfCommand is how the user can run this binary again, for commands the
// demo prints: "go run ./cmd/conveyor" from `go run` (whose binary is
// deleted on exit), "conveyor" when that name on PATH is this binary,
// otherwise the path it was started by ("./bin/conveyor").
func selfCommand(arg0 string, lookPath func(string) (string, error)) string {
	if strings.Contains(filepath.ToSlash(arg0), "/go-build") {
		return "go run ./cmd/conveyor"
	}
	if filepath.Base(arg0) == arg0 {
		return arg0 // found on PATH by the shell
	}
	if p, err := lookPath("conveyor"); err == nil {
		if a, b := absolute(p), absolute(arg0); a != "" && a == b {
			return "conveyor"
		}
	}
	if !filepath.IsAbs(arg0) && !strings.HasPrefix(arg0, ".") {
		return "./" + arg0
	}
	return arg0
}

func absolute(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(a); err == nil {
		return r
	}
	return a
}
