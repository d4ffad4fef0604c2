package giteaforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Merge merges pull request number with opts.Method (empty: a merge commit)
// if its head is still opts.HeadSHA (empty: any), and returns the merge
// commit. A pull request already merged at that head returns its merge
// commit; one merged at another head or closed gives a permanent
// forge.ErrNotMergeable, a moved head or a refusal a transient one.
func (f *Forge) Merge(ctx context.Context, number int, opts forge.MergeOptions) (string, error) {
	do := opts.Method
	switch do {
	case "":
		do = forge.MergeMerge
	case forge.MergeMerge, forge.MergeSquash, forge.MergeRebase:
	default:
		return "", retry.Permanent(fmt.Errorf("merging pull request #%d: unknown merge method %q", number, opts.Method))
	}
	p, err := f.get(ctx, number)
	if err != nil {
		return "", fmt.Errorf("merging pull request #%d: %w", number, err)
	}
	if sha, err := mergeState(number, p, opts.HeadSHA); sha != "" || err != nil {
		return sha, err
	}
	body := map[string]any{"Do": do, "MergeMessageField": opts.Message}
	if opts.HeadSHA != "" {
		body["head_commit_id"] = opts.HeadSHA
	}
	err = f.postMerge(ctx, number, body)
	switch status(err) {
	case 0:
	case http.StatusMethodNotAllowed, http.StatusConflict, http.StatusUnprocessableEntity:
		// Not mergeable now (conflicts, checks, approvals) or head moved.
		return "", fmt.Errorf("merging pull request #%d: %w: %s", number, forge.ErrNotMergeable, err.Error())
	}
	if err != nil {
		return "", fmt.Errorf("merging pull request #%d: %w", number, err)
	}
	if p, err = f.get(ctx, number); err != nil {
		return "", fmt.Errorf("reading the merge of pull request #%d: %w", number, err)
	}
	pr := p.toPR()
	if pr.MergeCommit == "" {
		return "", fmt.Errorf("merging pull request #%d: Gitea reports no merge commit yet", number)
	}
	return pr.MergeCommit, nil
}

// checking is how long Merge waits, in-process, for Gitea to finish its
// asynchronous conflict check of a freshly pushed pull request before
// handing the wait to the queue.
const checking = 15 * time.Second

// postMerge asks Gitea to merge. Gitea checks a new head for conflicts in
// the background and answers 405 "Please try again later" until it is
// done — a wait of a second or two, not a refusal — so that answer is
// retried here for a while and then returned as transient with a delay.
func (f *Forge) postMerge(ctx context.Context, number int, body map[string]any) error {
	deadline := time.Now().Add(checking)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := f.call(ctx, http.MethodPost, fmt.Sprintf("pulls/%d/merge", number), body, nil)
		if !stillChecking(err) {
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return retry.After(fmt.Errorf("%w: Gitea is still checking it for conflicts", forge.ErrNotMergeable), 5*time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func stillChecking(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.status == http.StatusMethodNotAllowed && strings.Contains(strings.ToLower(e.message), "try again later")
}

// mergeState answers Merge without merging when p's state already decides.
func mergeState(number int, p *pull, headSHA string) (string, error) {
	pr := p.toPR()
	moved := headSHA != "" && pr.HeadSHA != headSHA
	switch {
	case pr.State == forge.StateMerged && moved:
		return "", retry.Permanent(fmt.Errorf("merging pull request #%d: %w: merged at head %s, not %s", number, forge.ErrNotMergeable, pr.HeadSHA, headSHA))
	case pr.State == forge.StateMerged:
		return pr.MergeCommit, nil
	case pr.State != forge.StateOpen:
		return "", retry.Permanent(fmt.Errorf("merging pull request #%d: %w: closed without merging", number, forge.ErrNotMergeable))
	case moved:
		return "", fmt.Errorf("merging pull request #%d: %w: head moved to %s, not %s", number, forge.ErrNotMergeable, pr.HeadSHA, headSHA)
	}
	return "", nil
}

// ChecksPassed reports whether sha's combined commit status is success, or
// it has no statuses at all; pending counts as not passed.
func (f *Forge) ChecksPassed(ctx context.Context, sha string) (bool, error) {
	var c struct {
		State      string `json:"state"`
		TotalCount int    `json:"total_count"`
	}
	if err := f.call(ctx, http.MethodGet, "commits/"+url.PathEscape(sha)+"/status", nil, &c); err != nil {
		return false, fmt.Errorf("getting combined status of %s: %w", sha, err)
	}
	return c.TotalCount == 0 || c.State == "success", nil
}

// IsTeamMember reports whether user is a member of org's team, so that
// "org/team" reviewers can satisfy a release policy. Gitea addresses teams by
// id, found by name.
func (f *Forge) IsTeamMember(ctx context.Context, org, team, user string) (bool, error) {
	var found struct {
		Data []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
	}
	path := fmt.Sprintf("/orgs/%s/teams/search?q=%s", url.PathEscape(org), url.QueryEscape(team))
	if err := f.call(ctx, http.MethodGet, path, nil, &found); err != nil {
		return false, fmt.Errorf("finding team %s/%s: %w", org, team, err)
	}
	for _, t := range found.Data {
		if t.Name != team {
			continue
		}
		err := f.call(ctx, http.MethodGet, fmt.Sprintf("/teams/%d/members/%s", t.ID, url.PathEscape(user)), nil, nil)
		if status(err) == http.StatusNotFound {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("checking %s's membership of %s/%s: %w", user, org, team, err)
		}
		return true, nil
	}
	return false, nil
}
