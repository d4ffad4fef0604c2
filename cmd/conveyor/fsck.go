package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/spf13/pflag"
)

// errDamaged says fsck found problems it was not asked to repair: exit 1.
var errDamaged = errors.New("damage found")

func runFsck(fs *pflag.FlagSet) runFunc {
	dataDir := fs.String("data-dir", local.DefaultDataDir, "the local runtime's data directory")
	repair := fs.Bool("repair", false, "set damaged files and journal lines aside in <data-dir>/"+sqlitedb.LostFound+" and rebuild what can be rebuilt (nothing is deleted); conveyor dev must be stopped")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		if _, err := os.Stat(*dataDir); err != nil {
			return fmt.Errorf("no Conveyor data in %s: %w", *dataDir, err)
		}
		// A repair moves files a running runtime has open; even a check would
		// count its uploads in progress as leftovers.
		lock, err := local.LockDataDir(*dataDir)
		if err != nil {
			return err
		}
		defer lock.Close()
		regDir := filepath.Join(*dataDir, "registry")
		problems, err := sqlitedb.Inspect(ctx, *dataDir)
		if err != nil {
			return err
		}
		findings, err := ociregistry.Check(regDir, true)
		if err != nil {
			return err
		}
		for _, p := range problems {
			fmt.Fprintf(stdout, "database: %s\n", p)
		}
		for _, f := range findings {
			fmt.Fprintf(stdout, "registry: %s\n", f)
		}
		n := len(problems) + len(findings)
		if n == 0 {
			fmt.Fprintf(stdout, "%s: database and registry ok\n", *dataDir)
			return nil
		}
		if !*repair {
			return fmt.Errorf("%w: %d problem(s) in %s; `conveyor fsck --repair --data-dir %s` sets them aside in %s", errDamaged, n, *dataDir, *dataDir, filepath.Join(*dataDir, sqlitedb.LostFound))
		}
		return repairDataDir(ctx, stdout, *dataDir, regDir, len(problems) > 0, len(findings) > 0)
	}
}

func repairDataDir(ctx context.Context, stdout io.Writer, dataDir, regDir string, db, reg bool) error {
	if db {
		s, err := sqlitedb.Repair(ctx, dataDir)
		if err != nil {
			return fmt.Errorf("repairing the database: %w", err)
		}
		if s != nil {
			printSalvage(stdout, s)
		}
	}
	if reg {
		r, err := ociregistry.Repair(regDir, filepath.Join(dataDir, sqlitedb.LostFound))
		if err != nil {
			return fmt.Errorf("repairing the registry: %w", err)
		}
		if r != nil {
			fmt.Fprintf(stdout, "registry: set %d problem(s) aside in %s\n", len(r.Findings), r.Quarantine)
			for _, img := range r.Images {
				fmt.Fprintf(stdout, "registry: no longer served: %s (build its commit again, or push it again)\n", img)
			}
		}
	}
	fmt.Fprintf(stdout, "%s: repaired; nothing was deleted\n", dataDir)
	return nil
}

func printSalvage(w io.Writer, s *sqlitedb.Salvage) {
	fmt.Fprintf(w, "database: set the damaged database aside in %s\n", s.Quarantine)
	var tables []string
	rows := 0
	for t, n := range s.Rows {
		tables = append(tables, fmt.Sprintf("%s %d", t, n))
		rows += n
	}
	sort.Strings(tables)
	fmt.Fprintf(w, "database: copied %d readable row(s) into a new database (%s)\n", rows, strings.Join(tables, ", "))
	if len(s.Lost) > 0 {
		fmt.Fprintf(w, "database: could not read all of: %s\n", strings.Join(s.Lost, ", "))
	}
	fmt.Fprintln(w, "database: run `conveyor reconcile` to rebuild missing records from git")
}
