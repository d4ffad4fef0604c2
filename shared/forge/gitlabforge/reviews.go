package gitlabforge

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

// approvals is GitLab's answer to GET …/merge_requests/:iid/approvals, as
// far as the adapter reads it. approved_at is sent by GitLab 17.x and later
// (it is the approval's creation time); older servers send only the user.
type approvals struct {
	ApprovedBy []approver `json:"approved_by"`
}

type approver struct {
	User *struct {
		Username string `json:"username"`
	} `json:"user"`
	ApprovedAt *time.Time `json:"approved_at"`
}

func timed(a approver) bool   { return a.ApprovedAt != nil }
func untimed(a approver) bool { return a.ApprovedAt == nil }

// Reviews lists the approvals of merge request number, oldest first, each
// as a forge.Review in state "approved" with the head it approved as
// CommitID.
//
// GitLab's approvals API names who approved but not the commit they saw, so
// the adapter places each approval on a head itself, and an approval it
// cannot place counts for no head:
//
//   - With approved_at (GitLab ≥ 17), the approval belongs to the merge
//     request's diff version (…/versions: one per head GitLab has seen, with
//     its head_commit_sha and created_at) that was the newest one created
//     strictly before the approval. Both times come from the GitLab
//     server, never from a pusher; an approval stamped in the same instant
//     as a new version goes to the older head, so a tie never approves a
//     commit the reviewer may not have seen.
//   - Without approved_at, an approval is placed on the current head only
//     when the project resets approvals on push (reset_approvals_on_push,
//     and not the selective code-owner variant): then every approval GitLab
//     still lists was given since the last push. GitLab resets them in a
//     background job after the push, so for a moment an old approval can
//     still be listed; the sha guard on Merge keeps that moment from
//     merging a head nobody approved only if the approval was read before
//     the push, which is why servers with approved_at take the first path.
//   - Otherwise the approval gets an empty CommitID, which matches no
//     head: it is reported (who approved) but never satisfies a policy.
func (f *Forge) Reviews(ctx context.Context, number int) ([]forge.Review, error) {
	m, err := f.get(ctx, number)
	if err != nil {
		return nil, fmt.Errorf("listing approvals of merge request !%d: %w", number, err)
	}
	var a approvals
	if err := f.call(ctx, http.MethodGet, fmt.Sprintf("projects/%s/merge_requests/%d/approvals", gitlab.PathEscape(f.path), number), &a); err != nil {
		return nil, fmt.Errorf("listing approvals of merge request !%d: %w", number, err)
	}
	var versions []*gitlab.MergeRequestDiffVersion
	if slices.ContainsFunc(a.ApprovedBy, timed) {
		if versions, err = f.versions(ctx, number); err != nil {
			return nil, fmt.Errorf("listing versions of merge request !%d: %w", number, err)
		}
	}
	resets := false
	if slices.ContainsFunc(a.ApprovedBy, untimed) {
		if resets, err = f.resetsOnPush(ctx); err != nil {
			return nil, fmt.Errorf("reading the approval settings of %s: %w", f.path, err)
		}
	}
	var out []forge.Review
	for _, x := range a.ApprovedBy {
		if x.User == nil || x.User.Username == "" {
			continue
		}
		r := forge.Review{User: x.User.Username, State: "approved"}
		switch {
		case x.ApprovedAt != nil:
			r.At = *x.ApprovedAt
			r.CommitID = headAt(versions, *x.ApprovedAt)
		case resets:
			r.CommitID = m.SHA
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b forge.Review) int { return a.At.Compare(b.At) })
	return out, nil
}

// headAt returns the head of the newest version created strictly before t,
// or "" when none was.
func headAt(versions []*gitlab.MergeRequestDiffVersion, t time.Time) string {
	var best *gitlab.MergeRequestDiffVersion
	for _, v := range versions {
		if v.CreatedAt == nil || !v.CreatedAt.Before(t) {
			continue
		}
		if best == nil || v.CreatedAt.After(*best.CreatedAt) || v.CreatedAt.Equal(*best.CreatedAt) && v.ID > best.ID {
			best = v
		}
	}
	if best == nil {
		return ""
	}
	return best.HeadCommitSHA
}

// versions lists every diff version of merge request number.
func (f *Forge) versions(ctx context.Context, number int) ([]*gitlab.MergeRequestDiffVersion, error) {
	var out []*gitlab.MergeRequestDiffVersion
	opt := &gitlab.GetMergeRequestDiffVersionsOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1}}
	for {
		rctx, cancel := f.ctx(ctx)
		vs, resp, err := f.mrs.GetMergeRequestDiffVersions(f.path, int64(number), opt, rctx)
		cancel()
		if err != nil {
			return nil, classify(err, resp)
		}
		out = append(out, vs...)
		if resp == nil || resp.NextPage == 0 || len(vs) == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// resetsOnPush reports whether the project drops every approval on a push.
// The project approval settings are a Premium feature: a server that has
// none (404) or does not show them to this token (403) resets nothing as
// far as the adapter can tell.
func (f *Forge) resetsOnPush(ctx context.Context) (bool, error) {
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	s, resp, err := f.project.GetApprovalConfiguration(f.path, rctx)
	switch {
	case isStatus(err, resp, http.StatusNotFound), isStatus(err, resp, http.StatusForbidden):
		return false, nil
	case err != nil:
		return false, classify(err, resp)
	}
	return s.ResetApprovalsOnPush && !s.SelectiveCodeOwnerRemovals, nil
}

// call sends a request client-go has no typed method for and decodes the
// answer into out.
func (f *Forge) call(ctx context.Context, method, path string, out any) error {
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	req, err := f.raw.NewRequest(method, path, nil, []gitlab.RequestOptionFunc{rctx})
	if err != nil {
		return fmt.Errorf("building %s %s: %w", method, path, err)
	}
	resp, err := f.raw.Do(req, out)
	return classify(err, resp)
}
