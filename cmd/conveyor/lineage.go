package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/spf13/pflag"
)

func runStatus(fs *pflag.FlagSet) runFunc {
	pf := addPipelineFlags(fs)
	out := addOutputFlag(fs)
	protection := fs.Bool("protection", false, "also read the registry: is each environment's digest, and its rollback target, protected by a release-* tag")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := out.resolve(stderr); err != nil {
			return err
		}
		s, err := pf.open(ctx, stderr, false)
		if err != nil {
			return err
		}
		defer s.Close()
		cfg, rels, err := s.statusRecords(ctx, *protection)
		if err != nil {
			return err
		}
		cells := lineage.Status(cfg, rels, time.Now())
		pins, err := reconcile.Pins(ctx, s.gitops, cfg, 1)
		if err != nil {
			return fmt.Errorf("reading what the GitOps repository pins (status shows git's truth, not only records): %w", err)
		}
		cells = lineage.WithPins(cells, reconcile.LineagePins(pins))
		if !out.table() {
			return out.write(stdout, cells)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "APP\tENV\tRELEASE\tDIGEST (GIT)\tCOMMIT\tRELEASED\tOPEN PR\tFROZEN\tDRIFT")
		for _, c := range cells {
			pr := "-"
			if c.PR > 0 {
				pr = fmt.Sprintf("#%d %s", c.PR, shortDigest(c.ProposedDigest))
			}
			frozen := "no"
			if c.Frozen {
				frozen = "until " + c.FrozenUntil.Format(time.RFC3339)
			}
			released := "-"
			if !c.ReleasedAt.IsZero() {
				released = c.ReleasedAt.Format(time.RFC3339) + " by " + c.MergedBy
				if len(c.ApprovedBy) > 0 {
					released += " (approved by " + strings.Join(c.ApprovedBy, ", ") + ")"
				}
			}
			drift := "-"
			if c.Drift {
				drift = "DRIFT: " + c.DriftReason
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.App, c.Env, c.Release, shortDigest(c.Digest), short12(c.SourceCommit), released, pr, frozen, drift)
		}
		if err := tw.Flush(); err != nil || !*protection {
			return err
		}
		return printProtection(ctx, stdout, cfg, rels)
	}
}

func runHistory(fs *pflag.FlagSet) runFunc {
	pf := addPipelineFlags(fs)
	out := addOutputFlag(fs)
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := out.resolve(stderr); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: conveyor history APP", errUsage)
		}
		s, err := pf.open(ctx, stderr, false)
		if err != nil {
			return err
		}
		defer s.Close()
		cfg, rels, err := s.records(ctx, state.ReleaseFilter{App: fs.Arg(0)})
		if err != nil {
			return err
		}
		a, ok := cfg.App(fs.Arg(0))
		if !ok {
			return fmt.Errorf("no app %q in conveyor.yaml", fs.Arg(0))
		}
		js := lineage.History(a, rels)
		if !out.table() {
			return out.write(stdout, js)
		}
		for _, j := range js {
			fmt.Fprintf(stdout, "commit %s (%s) → %s %s\n", short12(j.SourceCommit), j.CommitTime.Format(time.RFC3339), shortDigest(j.Digest), j.Tag)
			for _, st := range j.Steps {
				line := fmt.Sprintf("  %-10s %-10s", st.Env, st.State)
				if st.PR > 0 {
					line += fmt.Sprintf(" #%d", st.PR)
				}
				if !st.Merged.IsZero() {
					line += fmt.Sprintf(" merged %s by %s", st.Merged.Format(time.RFC3339), st.MergedBy)
				}
				if len(st.ApprovedBy) > 0 {
					line += ", approved by " + strings.Join(st.ApprovedBy, ", ")
				}
				if st.Override != "" {
					line += " [override: " + st.Override + "]"
				}
				if st.LeadTime != "" {
					line += " (lead time " + st.LeadTime + ")"
				}
				if st.Rollback {
					line += " [rollback]"
				}
				fmt.Fprintln(stdout, line)
			}
		}
		return nil
	}
}

func runMetrics(fs *pflag.FlagSet) runFunc {
	pf := addPipelineFlags(fs)
	out := addOutputFlag(fs)
	since := fs.Duration("since", 30*24*time.Hour, "window length, ending now")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := out.resolve(stderr); err != nil {
			return err
		}
		s, err := pf.open(ctx, stderr, false)
		if err != nil {
			return err
		}
		defer s.Close()
		now := time.Now()
		cfg, rels, err := s.records(ctx, state.ReleaseFilter{UpdatedSince: now.Add(-*since)})
		if err != nil {
			return err
		}
		m := lineage.Compute(cfg, rels, now.Add(-*since), now)
		if !out.table() {
			return out.write(stdout, m)
		}
		fmt.Fprintf(stdout, "window              %s → %s\n", m.Since.Format(time.RFC3339), m.Until.Format(time.RFC3339))
		fmt.Fprintf(stdout, "deployments         %d to production (%.2f/day)\n", m.Deployments, m.DeploymentsPerDay)
		fmt.Fprintf(stdout, "lead time           %s (median, source commit → production merge)\n", m.LeadTime.Round(time.Second))
		fmt.Fprintf(stdout, "change failure rate %.0f%% (%d rollback(s))\n", 100*m.ChangeFailureRate, m.Rollbacks)
		fmt.Fprintf(stdout, "time to restore     %s (median, rollback proposed → merged)\n", m.TimeToRestore.Round(time.Second))
		return nil
	}
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	if d == "" {
		return "-"
	}
	return d
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "-"
	}
	return s
}
