package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

func init() {
	commands["reconcile"] = command{"make the records equal git: record reverts, out-of-band edits and merges whose event was lost", runReconcile}
}

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reconcile", stderr)
	pf := addPipelineFlags(fs)
	dryRun := fs.Bool("dry-run", false, "show what would be recorded, record nothing")
	depth := fs.Int("depth", 50, "how many base-branch commits to read back to find the commit that set each pin")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	s, err := pf.open(ctx, stderr, true)
	if err != nil {
		return err
	}
	defer s.Close()
	cfg, rels, err := s.records(ctx, state.ReleaseFilter{})
	if err != nil {
		return err
	}
	pins, err := reconcile.Pins(ctx, s.gitops, cfg, *depth)
	if err != nil {
		return err
	}
	drifts := reconcile.Compare(cfg, pins, rels)
	written := 0
	if !*dryRun {
		if written, err = reconcile.Apply(ctx, s.state, drifts); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"drifts": drifts, "recorded": written, "dry_run": *dryRun})
	}
	if len(drifts) == 0 {
		fmt.Fprintln(stdout, "records equal git: nothing to reconcile")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tENV\tRECORDED\tGIT PINS\tCOMMIT\tREPAIR")
	for _, d := range drifts {
		repair := d.Repair
		if d.Err != "" {
			repair = "none: " + d.Err
		} else if repair == "" {
			repair = "none: the manifests pin no digest"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.App, d.Env, shortDigest(d.Recorded), shortDigest(d.Digest), short12(d.Commit), repair)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing recorded")
	} else {
		fmt.Fprintf(stdout, "%d record(s) written\n", written)
	}
	return nil
}

func lineagePins(pins []reconcile.Pin) []lineage.Pin {
	out := make([]lineage.Pin, len(pins))
	for i, p := range pins {
		out[i] = lineage.Pin{App: p.App, Env: p.Env, Digest: p.Digest, Err: p.Err}
	}
	return out
}
