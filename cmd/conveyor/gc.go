package main

import (
	"context"
	"fmt"
	"io"

	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func init() {
	commands["gc"] = command{"gc [--dry-run] IMAGE-REPO...: delete sha-* images no release-<env> tag protects (the lifecycle rule, for a registry without one)", runGC}
}

func runGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gc", stderr)
	dryRun := fs.Bool("dry-run", false, "list what would be deleted, delete nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: conveyor gc [--dry-run] IMAGE-REPO...", errUsage)
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	for _, arg := range fs.Args() {
		repo, err := name.NewRepository(arg)
		if err != nil {
			return fmt.Errorf("%w: image repository %q: %v", errUsage, arg, err)
		}
		gone, err := retention.Sweep(ctx, repo, *dryRun, remote.WithAuthFromKeychain(authn.DefaultKeychain))
		if err != nil {
			return err
		}
		for _, d := range gone {
			fmt.Fprintf(stdout, "%s %s@%s\n", verb, repo, d)
		}
		fmt.Fprintf(stdout, "%s: %d %s\n", repo, len(gone), verb)
	}
	return nil
}
