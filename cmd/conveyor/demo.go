package main

import (
	"context"
	"fmt"
	"io"

	"github.com/conveyor-gitops/conveyor/shared/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	dir := fs.String("dir", "", "directory for the demo's repositories and data (default: a new temporary directory)")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Conveyor demo: the pipeline on embedded defaults (no AWS, no Docker, no network).")
	_, err := demo.Run(ctx, stdout, demo.Options{Dir: *dir, All: true})
	return err
}
