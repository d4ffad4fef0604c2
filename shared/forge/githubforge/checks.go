package githubforge

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// ChecksPassed reports whether sha is green: its combined commit status is
// "success" or it has no statuses at all, and every check run on it (the
// latest run of each) has completed as success, neutral or skipped. Anything
// pending counts as not passed.
func (f *Forge) ChecksPassed(ctx context.Context, sha string) (bool, error) {
	rctx, cancel := f.request(ctx)
	combined, _, err := f.statuses.GetCombinedStatus(rctx, f.owner, f.repo, sha, &github.ListOptions{PerPage: 100})
	cancel()
	if err != nil {
		return false, fmt.Errorf("getting combined status of %s: %w", sha, classify(err))
	}
	// With no statuses GitHub reports "pending"; that means none required.
	if combined.GetTotalCount() > 0 && combined.GetState() != "success" {
		return false, nil
	}
	opts := &github.ListCheckRunsOptions{
		Filter:      github.String("latest"),
		ListOptions: github.ListOptions{PerPage: 100},
	}
	for {
		rctx, cancel := f.request(ctx)
		runs, resp, err := f.checks.ListCheckRunsForRef(rctx, f.owner, f.repo, sha, opts)
		cancel()
		if err != nil {
			return false, fmt.Errorf("listing check runs of %s: %w", sha, classify(err))
		}
		for _, run := range runs.CheckRuns {
			if run.GetStatus() != "completed" {
				return false, nil
			}
			switch run.GetConclusion() {
			case "success", "neutral", "skipped":
			default:
				return false, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return true, nil
		}
		opts.Page = resp.NextPage
	}
}
