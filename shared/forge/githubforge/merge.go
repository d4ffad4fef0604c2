package githubforge

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Merge merges pull request number with opts.Method (forge.MergeMerge,
// MergeSquash, MergeRebase, or empty for the repository's default) if its
// head is still opts.HeadSHA (empty: any), and returns the merge commit.
// opts.Message goes to GitHub as commit_message, which GitHub adds to the
// merge commit's message.
//
// While GitHub is still computing mergeability, Merge re-fetches the pull
// request a bounded number of times (WithMergeablePoll), then lets the merge
// request decide. A pull request GitHub reports unmergeable, or whose head
// moved, gives forge.ErrNotMergeable, transient; one closed without merging
// gives it permanent. A pull request already merged at headSHA returns its
// merge commit without merging again.
func (f *Forge) Merge(ctx context.Context, number int, opts forge.MergeOptions) (string, error) {
	method, headSHA := opts.Method, opts.HeadSHA
	switch method {
	case "", forge.MergeMerge, forge.MergeSquash, forge.MergeRebase:
	default:
		return "", retry.Permanent(fmt.Errorf("merging pull request #%d: unknown merge method %q", number, method))
	}
	p, err := f.get(ctx, number)
	if err != nil {
		return "", fmt.Errorf("merging pull request #%d: %w", number, err)
	}
	// GitHub computes mergeability in the background and reports null
	// meanwhile (and always, once closed).
	for i := 0; i < f.opts.pollAttempts && p.Mergeable == nil && p.GetState() == forge.StateOpen; i++ {
		if err := sleep(ctx, f.opts.pollWait); err != nil {
			return "", fmt.Errorf("waiting for the mergeability of pull request #%d: %w", number, err)
		}
		if p, err = f.get(ctx, number); err != nil {
			return "", fmt.Errorf("merging pull request #%d: %w", number, err)
		}
	}
	head := p.GetHead().GetSHA()
	moved := headSHA != "" && head != headSHA
	switch {
	case isMerged(p) && moved:
		return "", retry.Permanent(fmt.Errorf("merging pull request #%d: %w: merged at head %s, not %s", number, forge.ErrNotMergeable, head, headSHA))
	case isMerged(p):
		return p.GetMergeCommitSHA(), nil
	case p.GetState() != forge.StateOpen:
		return "", retry.Permanent(fmt.Errorf("merging pull request #%d: %w: closed without merging", number, forge.ErrNotMergeable))
	case moved:
		return "", fmt.Errorf("merging pull request #%d: %w: head moved to %s, not %s", number, forge.ErrNotMergeable, head, headSHA)
	case p.Mergeable != nil && !*p.Mergeable:
		return "", fmt.Errorf("merging pull request #%d: %w: mergeable_state %s", number, forge.ErrNotMergeable, p.GetMergeableState())
	}

	rctx, cancel := f.request(ctx)
	defer cancel()
	res, _, err := f.pulls.Merge(rctx, f.owner, f.repo, number, opts.Message, &github.PullRequestOptions{
		MergeMethod: method,
		SHA:         headSHA,
	})
	if err != nil {
		return "", fmt.Errorf("merging pull request #%d: %w", number, classifyMerge(err))
	}
	return res.GetSHA(), nil
}

// classifyMerge maps the merge endpoint's refusals to forge.ErrNotMergeable:
// 405 (not mergeable now) and 409 (head branch modified) are transient,
// except a merge method the repository does not allow, which no retry fixes.
func classifyMerge(err error) error {
	switch responseStatus(err) {
	case http.StatusMethodNotAllowed:
		e := fmt.Errorf("%w: %w", forge.ErrNotMergeable, &apiError{resp: asErrorResponse(err)})
		if responseSays(err, "not allowed on this repository") {
			return retry.Permanent(e)
		}
		return e
	case http.StatusConflict:
		return fmt.Errorf("%w: %w", forge.ErrNotMergeable, &apiError{resp: asErrorResponse(err)})
	}
	return classify(err)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
