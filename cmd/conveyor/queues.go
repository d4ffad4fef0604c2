package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/spf13/pflag"
)

func runQueues(fs *pflag.FlagSet) runFunc {
	dataDir := fs.String("data-dir", local.DefaultDataDir, "the local runtime's data directory")
	out := addOutputFlag(fs)
	sf := addStackFlag(fs)
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := out.resolve(stderr); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		var stats map[string]sqlitequeue.Stats
		var err error
		if name, ok := sf.name(); ok {
			stats, err = stackStats(ctx, name, stderr)
		} else {
			stats, err = localStats(ctx, *dataDir)
		}
		if err != nil {
			return err
		}
		if !out.table() {
			return out.write(stdout, stats)
		}
		return printStats(stdout, stats)
	}
}

func localStats(ctx context.Context, dataDir string) (map[string]sqlitequeue.Stats, error) {
	if !sqlitedb.HasData(dataDir) {
		return nil, fmt.Errorf("no Conveyor data in %s (start `conveyor dev --data-dir %s` first, or give --stack NAME for a deployed stack)", dataDir, dataDir)
	}
	db, err := sqlitedb.Open(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	b, err := sqlitequeue.Open(ctx, db, queue.Topology)
	if err != nil {
		return nil, err
	}
	return local.Stats(ctx, b)
}

func printStats(w io.Writer, stats map[string]sqlitequeue.Stats) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tVISIBLE\tIN FLIGHT\tDELAYED\tDEAD")
	for _, s := range queue.Topology {
		st := stats[s.Name]
		name := s.Name
		if s.FIFO {
			name += " (fifo)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", name, st.Visible, st.InFlight, st.Delayed, st.Dead)
	}
	return tw.Flush()
}
