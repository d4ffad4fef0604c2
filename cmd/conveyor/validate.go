package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/conveyor-gitops/conveyor/shared/config"
)

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: conveyor validate [FILE]   (default ./conveyor.yaml)")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("%w: validate takes at most one file", errUsage)
	}
	path := "conveyor.yaml"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	cfg, err := config.Load(path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			return fmt.Errorf("%s: %d problem(s)", path, len(errs))
		}
		return err
	}
	envs := 0
	for _, a := range cfg.Apps {
		envs += len(a.Environments)
	}
	fmt.Fprintf(stdout, "%s: valid (%d app(s), %d environment(s))\n", path, len(cfg.Apps), envs)
	return nil
}
