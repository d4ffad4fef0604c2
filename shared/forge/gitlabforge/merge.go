package gitlabforge

import (
	"context"
	"fmt"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Merge merges merge request number if its head is still opts.HeadSHA
// (empty: any), sending the head as the accept endpoint's sha so that GitLab
// itself refuses a head that moved in between, and returns the commit the
// merge put on the target branch.
//
// opts.Method MergeMerge merges without squashing, MergeSquash squashes,
// empty leaves both to the project's settings. MergeRebase is refused,
// permanently: GitLab rebases a source branch as a separate, asynchronous
// step that gives it a new head, which would no longer be the head that was
// approved; a project that wants linear history sets its merge method to
// fast-forward and Conveyor merges with MergeMerge or the default.
//
// A merge request already merged at that head returns its merge commit; one
// merged at another head or closed gives a permanent forge.ErrNotMergeable,
// a moved head or GitLab's refusal (405, 406, 409, 422) a transient one.
func (f *Forge) Merge(ctx context.Context, number int, opts forge.MergeOptions) (string, error) {
	var squash *bool
	switch opts.Method {
	case "":
	case forge.MergeMerge:
		squash = gitlab.Ptr(false)
	case forge.MergeSquash:
		squash = gitlab.Ptr(true)
	case forge.MergeRebase:
		return "", retry.Permanent(fmt.Errorf("merging merge request !%d: %w: GitLab cannot rebase as part of a merge without changing the approved head; set the project's merge method to fast-forward and merge with %q", number, forge.ErrNotMergeable, forge.MergeMerge))
	default:
		return "", retry.Permanent(fmt.Errorf("merging merge request !%d: unknown merge method %q", number, opts.Method))
	}
	m, err := f.get(ctx, number)
	if err != nil {
		return "", fmt.Errorf("merging merge request !%d: %w", number, err)
	}
	if sha, err := f.mergeState(number, m, opts.HeadSHA); sha != "" || err != nil {
		return sha, err
	}
	accept := &gitlab.AcceptMergeRequestOptions{Squash: squash}
	if opts.HeadSHA != "" {
		accept.SHA = gitlab.Ptr(opts.HeadSHA)
	}
	if opts.Message != "" {
		// GitLab's message parameters replace its default message; keep
		// its first line and the title, then add ours.
		msg := fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\n%s", m.SourceBranch, m.TargetBranch, m.Title, opts.Message)
		accept.MergeCommitMessage = gitlab.Ptr(msg)
		accept.SquashCommitMessage = gitlab.Ptr(m.Title + "\n\n" + opts.Message)
	}
	rctx, cancel := f.ctx(ctx)
	merged, resp, err := f.mrs.AcceptMergeRequest(f.path, int64(number), accept, rctx)
	cancel()
	if err != nil {
		return "", fmt.Errorf("merging merge request !%d: %w", number, classifyMerge(err, resp))
	}
	if merged.State != "merged" {
		// Accepted but still landing ("locked"): read it again.
		if merged, err = f.get(ctx, number); err != nil {
			return "", fmt.Errorf("reading the merge of merge request !%d: %w", number, err)
		}
	}
	if merged.State != "merged" {
		return "", fmt.Errorf("merging merge request !%d: %w (state %s)", number, errNoMergeCommit, merged.State)
	}
	return mergeCommit(&merged.BasicMergeRequest), nil
}

// mergeState answers Merge without merging when m's state already decides.
func (f *Forge) mergeState(number int, m *gitlab.MergeRequest, headSHA string) (string, error) {
	pr := f.toPR(&m.BasicMergeRequest)
	moved := headSHA != "" && pr.HeadSHA != headSHA
	switch {
	case pr.State == forge.StateMerged && moved:
		return "", retry.Permanent(fmt.Errorf("merging merge request !%d: %w: merged at head %s, not %s", number, forge.ErrNotMergeable, pr.HeadSHA, headSHA))
	case pr.State == forge.StateMerged:
		return pr.MergeCommit, nil
	case pr.State != forge.StateOpen:
		return "", retry.Permanent(fmt.Errorf("merging merge request !%d: %w: closed without merging", number, forge.ErrNotMergeable))
	case m.State == "locked":
		return "", fmt.Errorf("merging merge request !%d: %w: a merge is already in progress", number, forge.ErrNotMergeable)
	case moved:
		return "", fmt.Errorf("merging merge request !%d: %w: head moved to %s, not %s", number, forge.ErrNotMergeable, pr.HeadSHA, headSHA)
	}
	return "", nil
}

// ChecksPassed reports whether sha is green: the latest commit status of
// each name on it (every pipeline job is one, and so is every external
// status) succeeded, was skipped, or is allowed to fail. A commit with no
// status at all has nothing required of it. Anything created, pending,
// running, waiting for a manual action that may not fail, or failed counts
// as not passed.
func (f *Forge) ChecksPassed(ctx context.Context, sha string) (bool, error) {
	opt := &gitlab.GetCommitStatusesOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1}}
	for {
		rctx, cancel := f.ctx(ctx)
		ss, resp, err := f.commits.GetCommitStatuses(f.path, sha, opt, rctx)
		cancel()
		if err != nil {
			return false, fmt.Errorf("listing commit statuses of %s: %w", sha, classify(err, resp))
		}
		for _, s := range ss {
			if !green(s) {
				return false, nil
			}
		}
		if resp == nil || resp.NextPage == 0 || len(ss) == 0 {
			return true, nil
		}
		opt.Page = resp.NextPage
	}
}

func green(s *gitlab.CommitStatus) bool {
	switch s.Status {
	case "success", "skipped":
		return true
	case "failed", "canceled", "manual":
		return s.AllowFailure
	}
	return false
}
