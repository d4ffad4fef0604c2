package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/local"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	dir := fs.String("dir", "", "directory for the demo's repositories and data (default: a new temporary directory)")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Conveyor demo: a push becomes queued work, on embedded defaults (no AWS, no Docker, no network).")
	_, err := demo.Run(ctx, stdout, demo.Options{Dir: *dir, Setup: func(rt *local.Runtime, pipeline func(context.Context) (*config.Config, error), log *slog.Logger) error {
		for name, build := range consumers {
			fn, err := build(deps{rt: rt, config: pipeline, logger: log.With("function", name)})
			if err != nil {
				return fmt.Errorf("starting %s: %w", name, err)
			}
			if err := rt.Register(fn); err != nil {
				return err
			}
		}
		return nil
	}})
	return err
}
