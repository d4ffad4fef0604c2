package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/spf13/pflag"
)

// reconcileOptions are the settings `reconcile` and `dev` share.
type reconcileOptions struct {
	perMinute int
	settle    time.Duration
	depth     int
}

// newReconciler wires a reconciliation of the local runtime's records and
// queues against the GitOps repository's forge and git, and the sources.
func newReconciler(rt *local.Runtime, g *local.GitOps, cfg local.ConfigSource, o reconcileOptions, log *slog.Logger) (*reconcile.Reconciler, error) {
	promotions, err := rt.Queues.Queue(queue.Promotions)
	if err != nil {
		return nil, err
	}
	builds, err := rt.Queues.Queue(queue.Builds)
	if err != nil {
		return nil, err
	}
	limiter := reconcile.NewLimiter(o.perMinute, 5)
	r := &reconcile.Reconciler{Config: cfg, Releases: rt.State, GitOps: g, Forge: g.Forge, Repository: g.Repository,
		Promotions: promotions, Builds: rt.State, BuildQueue: builds, GitHost: local.EnvGitHost(),
		Heads: reconcile.SourceHeads(local.EnvGitHost(), g.Auth), Limiter: limiter, Settle: o.settle, Depth: o.depth, Log: log}
	// The local forge lists its merges itself; on GitHub the adapter
	// that answers team questions lists them too.
	if g.Local != nil {
		r.Merged = g.Local
	} else if m, ok := g.Teams.(reconcile.MergedLister); ok {
		r.Merged = m
	}
	return r, nil
}

// reconcileEvery runs r every interval until ctx ends; the returned wait
// blocks until the last pass is over.
func reconcileEvery(ctx context.Context, r *reconcile.Reconciler, every time.Duration, log *slog.Logger) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rep, err := r.Run(ctx, false)
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "reconciling", "error", err.Error())
				continue
			}
			if rep != nil && len(rep.Repairs) > 0 {
				log.InfoContext(ctx, "reconciled", "repairs", len(rep.Repairs))
			}
		}
	}()
	return wg.Wait
}

func runReconcile(fs *pflag.FlagSet) runFunc {
	pf := addPipelineFlags(fs)
	dryRun := fs.Bool("dry-run", false, "show what would be repaired, repair nothing")
	depth := fs.Int("depth", 50, "how many base-branch commits to read back to find the commit that set each pin")
	rate := fs.Int("rate", reconcile.DefaultPerMinute, "forge and git requests a minute reconciliation may spend (0: no limit)")
	settle := fs.Duration("settle", 0, "leave alone merges and pins newer than this (their events may still be on their way)")
	asJSON := fs.Bool("json", false, "print JSON")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		s, err := pf.open(ctx, stderr, true)
		if err != nil {
			return err
		}
		defer s.Close()
		if s.rt == nil {
			return reconcileRecords(ctx, s, *depth, *dryRun, *asJSON, stdout)
		}
		r, err := newReconciler(s.rt, s.local, s.config, reconcileOptions{perMinute: *rate, settle: *settle, depth: *depth},
			logging.New(stderr, slog.LevelWarn))
		if err != nil {
			return err
		}
		rep, err := r.Run(ctx, *dryRun)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"drifts": rep.Drifts, "repairs": rep.Repairs, "recorded": rep.Recorded, "dry_run": *dryRun})
		}
		return printReconcile(stdout, rep, *dryRun)
	}
}

func printReconcile(stdout io.Writer, rep *reconcile.Report, dryRun bool) error {
	var others []reconcile.Repair
	for _, p := range rep.Repairs {
		switch p.Kind {
		case reconcile.LostMerge, reconcile.OnwardPromotion, reconcile.Unbuilt:
			others = append(others, p)
		}
	}
	if len(rep.Drifts) == 0 && len(others) == 0 {
		fmt.Fprintln(stdout, "records equal git: nothing to reconcile")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if len(rep.Drifts) > 0 {
		fmt.Fprintln(tw, "APP\tENV\tRECORDED\tGIT PINS\tCOMMIT\tREPAIR")
		for _, d := range rep.Drifts {
			repair := d.Repair
			if d.Err != "" {
				repair = "none: " + d.Err
			} else if repair == "" {
				repair = "none: the manifests pin no digest"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.App, d.Env, shortDigest(d.Recorded), shortDigest(d.Digest), short12(d.Commit), repair)
		}
	}
	if len(others) > 0 {
		fmt.Fprintln(tw, "REPAIR\tAPP\tENV\tPR\tDIGEST\tCOMMIT\tERROR")
		for _, p := range others {
			pr := ""
			if p.PR > 0 {
				pr = fmt.Sprintf("#%d", p.PR)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Kind, p.App, p.Env, pr, shortDigest(p.Digest), short12(p.Commit), p.Err)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if dryRun {
		fmt.Fprintln(stdout, "dry run: nothing recorded")
	} else {
		fmt.Fprintf(stdout, "%d record(s) written\n", rep.Recorded)
	}
	return nil
}

// reconcileRecords makes a deployed stack's records equal git from the
// operator's machine; the stack's scheduled reconcile function also repairs
// lost merges, onward promotions and unbuilt commits there.
func reconcileRecords(ctx context.Context, s *session, depth int, dryRun, asJSON bool, stdout io.Writer) error {
	cfg, rels, err := s.records(ctx, state.ReleaseFilter{})
	if err != nil {
		return err
	}
	pins, err := reconcile.Pins(ctx, s.gitops, cfg, depth)
	if err != nil {
		return err
	}
	rep := &reconcile.Report{Drifts: reconcile.Compare(cfg, pins, rels)}
	if !dryRun {
		if rep.Recorded, err = reconcile.Apply(ctx, s.state, rep.Drifts); err != nil {
			return err
		}
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"drifts": rep.Drifts, "repairs": rep.Repairs, "recorded": rep.Recorded, "dry_run": dryRun})
	}
	return printReconcile(stdout, rep, dryRun)
}
