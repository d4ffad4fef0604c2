package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/onboard"
	"github.com/spf13/pflag"
)

func runValidate(fs *pflag.FlagSet) runFunc {
	repo := fs.String("repo", "", "also check each environment against the GitOps repository in DIR: its paths exist and hold what its strategy edits")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() > 1 {
			return fmt.Errorf("%w: validate takes at most one file", errUsage)
		}
		path := "conveyor.yaml"
		if *repo != "" {
			path = filepath.Join(*repo, "conveyor.yaml")
		}
		if fs.NArg() == 1 {
			path = fs.Arg(0)
		}
		cfg, err := config.Load(path)
		if err == nil && *repo != "" && len(cfg.Discover) > 0 {
			cfg, err = discoverRepo(*repo, path, stdout)
		}
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
		if *repo != "" {
			if err := checkRepo(*repo, path, cfg, stderr); err != nil {
				return err
			}
		}
		envs := 0
		for _, a := range cfg.Apps {
			envs += len(a.Environments)
		}
		fmt.Fprintf(stdout, "%s: valid (%d app(s), %d environment(s))\n", path, len(cfg.Apps), envs)
		if len(cfg.Discover) > 0 && *repo == "" {
			fmt.Fprintf(stdout, "%d discover rule(s) not expanded: give --repo DIR to see and check the apps they find\n", len(cfg.Discover))
		}
		return nil
	}
}

// checkRepo checks cfg, read from path, against the repository in dir and
// prints each problem on its line.
func checkRepo(dir, path string, cfg *config.Config, stderr io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening the repository: %w", err)
	}
	defer root.Close()
	errs := onboard.CheckRepo(root.FS(), cfg, data)
	for _, e := range errs {
		fmt.Fprintln(stderr, e.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %d problem(s) against the repository in %s", path, len(errs), dir)
	}
	return nil
}

// discoverRepo parses path again with the apps its discover rules find in
// the repository in dir, and prints what each rule found.
func discoverRepo(dir, path string, stdout io.Writer) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the repository: %w", err)
	}
	defer root.Close()
	cfg, lines, err := onboard.Discover(root.FS(), path, data)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return cfg, err
}
