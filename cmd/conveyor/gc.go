package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/pflag"
)

func runGC(fs *pflag.FlagSet) runFunc {
	dryRun := fs.Bool("dry-run", false, "list what would be deleted, delete nothing")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
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
}

// printProtection says, per app and environment, whether the released
// digest and its rollback target carry a release-* tag, reading the
// registry.
func printProtection(ctx context.Context, w io.Writer, cfg *config.Config, rels []state.Release) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nAPP\tENV\tRELEASED\tROLLBACK TARGET")
	for _, a := range cfg.Apps {
		repo, err := name.NewRepository(a.Image)
		if err != nil {
			return fmt.Errorf("image repository %q: %w", a.Image, err)
		}
		for _, e := range a.Environments {
			var mine []state.Release
			for _, r := range rels {
				if r.App == a.Name && r.Env == e.Name {
					mine = append(mine, r)
				}
			}
			targets := retention.Targets(mine, retention.DefaultPrevious)
			cols := []string{"-", "-"}
			for i := 0; i < len(targets) && i < 2; i++ {
				ok, err := retention.Protected(ctx, repo, e.Name, targets[i], retention.DefaultPrevious, remote.WithAuthFromKeychain(authn.DefaultKeychain))
				if err != nil {
					return err
				}
				cols[i] = shortDigest(targets[i]) + " UNPROTECTED"
				if ok {
					cols[i] = shortDigest(targets[i]) + " protected"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, e.Name, cols[0], cols[1])
		}
	}
	return tw.Flush()
}
