package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// waitPoll is how often `promote --wait` reads the pull request: the
// forge sends the CLI no events.
var waitPoll = 2 * time.Second

// awaitFate waits for what decides the promotion out: its pull request
// merged (nil), closed unmerged or still open after timeout (an error,
// exit 1). A promotion that merged at once, or whose digest is already
// released, has nothing left to wait for.
func awaitFate(ctx context.Context, stdout io.Writer, f forge.Forge, out *promote.Outcome, timeout time.Duration) error {
	var number int
	switch {
	case out.Action == promote.Merged:
		fmt.Fprintf(stdout, "merged: #%d\n", out.PR.Number)
		return nil
	case out.PR != nil:
		number = out.PR.Number
	case out.Action == promote.Current && out.Release.State == state.Merged:
		fmt.Fprintf(stdout, "merged: %s\n", out.Reason)
		return nil
	case out.Action == promote.Current && out.Release.PR > 0:
		number = out.Release.PR
	default:
		return fmt.Errorf("no pull request to wait for: %s (%s)", out.Action, out.Reason)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		pr, err := f.Get(ctx, number)
		switch {
		case err == nil && pr.State == forge.StateMerged:
			fmt.Fprintf(stdout, "merged: #%d as %.12s by %s\n", number, pr.MergeCommit, pr.MergedBy)
			return nil
		case err == nil && pr.State == forge.StateClosed:
			return fmt.Errorf("#%d was closed without merging", number)
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("reading #%d: %w", number, err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("#%d is still open after %s", number, timeout)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}
