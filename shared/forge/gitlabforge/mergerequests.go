package gitlabforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

// FindOpen returns the open merge request whose source is branch in this
// project (not a fork's branch of the same name), or an error wrapping
// forge.ErrNotFound.
func (f *Forge) FindOpen(ctx context.Context, branch string) (*forge.PR, error) {
	m, err := f.findOpen(ctx, branch)
	if err == nil && m == nil {
		err = forge.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("finding open merge request for %s: %w", branch, err)
	}
	return f.toPR(m), nil
}

func (f *Forge) findOpen(ctx context.Context, branch string) (*gitlab.BasicMergeRequest, error) {
	opt := &gitlab.ListProjectMergeRequestsOptions{
		ListOptions:  gitlab.ListOptions{PerPage: 100},
		State:        gitlab.Ptr("opened"),
		SourceBranch: gitlab.Ptr(branch),
	}
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	ms, resp, err := f.mrs.ListProjectMergeRequests(f.path, opt, rctx)
	if err != nil {
		return nil, classify(err, resp)
	}
	for _, m := range ms {
		if m.SourceBranch == branch && (m.SourceProjectID == 0 || m.SourceProjectID == m.TargetProjectID) {
			return m, nil
		}
	}
	return nil, nil
}

// Get returns merge request number (its IID).
func (f *Forge) Get(ctx context.Context, number int) (*forge.PR, error) {
	m, err := f.get(ctx, number)
	if err != nil {
		return nil, fmt.Errorf("getting merge request !%d: %w", number, err)
	}
	return f.toPR(&m.BasicMergeRequest), nil
}

func (f *Forge) get(ctx context.Context, number int) (*gitlab.MergeRequest, error) {
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	m, resp, err := f.mrs.GetMergeRequest(f.path, int64(number), nil, rctx)
	return m, classify(err, resp)
}

// Create opens a merge request, or adopts the open one for the branch
// (GitLab answers 409 for a second) and adds the labels a failed earlier
// attempt may have missed. Reviewers that are users GitLab knows are
// requested; "group/team" entries are not, as GitLab takes only users as
// reviewers (membership is checked at approval time, IsTeamMember).
func (f *Forge) Create(ctx context.Context, in forge.NewPR) (*forge.PR, error) {
	opt := &gitlab.CreateMergeRequestOptions{
		SourceBranch: gitlab.Ptr(in.Branch),
		TargetBranch: gitlab.Ptr(in.Base),
		Title:        gitlab.Ptr(in.Title),
		Description:  gitlab.Ptr(in.Body),
	}
	if len(in.Labels) > 0 {
		opt.Labels = gitlab.Ptr(gitlab.LabelOptions(in.Labels))
	}
	if ids := f.userIDs(ctx, in.Reviewers); len(ids) > 0 {
		opt.ReviewerIDs = &ids
	}
	rctx, cancel := f.ctx(ctx)
	m, resp, err := f.mrs.CreateMergeRequest(f.path, opt, rctx)
	cancel()
	if isStatus(err, resp, http.StatusConflict) {
		return f.adopt(ctx, in, err)
	}
	if err != nil {
		return nil, fmt.Errorf("creating merge request for %s: %w", in.Branch, classify(err, resp))
	}
	return f.toPR(&m.BasicMergeRequest), nil
}

// adopt returns the open merge request GitLab said exists for in.Branch,
// with in.Labels added.
func (f *Forge) adopt(ctx context.Context, in forge.NewPR, conflict error) (*forge.PR, error) {
	existing, err := f.findOpen(ctx, in.Branch)
	if err != nil {
		return nil, fmt.Errorf("finding the existing merge request for %s: %w", in.Branch, err)
	}
	if existing == nil {
		// GitLab says one exists but lists none open (yet, or any more):
		// transient, so the queue tries again.
		return nil, fmt.Errorf("creating merge request for %s: none listed open (%s)", in.Branch, conflict.Error())
	}
	f.opts.log.InfoContext(ctx, "adopted the open merge request", "branch", in.Branch, "pr", existing.IID)
	if len(in.Labels) == 0 {
		return f.toPR(existing), nil
	}
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	m, resp, err := f.mrs.UpdateMergeRequest(f.path, existing.IID, &gitlab.UpdateMergeRequestOptions{AddLabels: gitlab.Ptr(gitlab.LabelOptions(in.Labels))}, rctx)
	if err != nil {
		return nil, fmt.Errorf("labelling merge request !%d: %w", existing.IID, classify(err, resp))
	}
	return f.toPR(&m.BasicMergeRequest), nil
}

// userIDs resolves reviewer usernames to user ids, leaving out teams and
// users GitLab does not know: a review request is a courtesy, not a gate.
func (f *Forge) userIDs(ctx context.Context, reviewers []string) []int64 {
	var ids []int64
	for _, r := range reviewers {
		r = strings.TrimPrefix(strings.TrimSpace(r), "@")
		if r == "" || strings.Contains(r, "/") {
			continue
		}
		id, err := f.userID(ctx, r)
		if err != nil || id == 0 {
			f.opts.log.WarnContext(ctx, "reviewer not requested", "reviewer", r, "error", fmt.Sprint(err))
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// userID returns the id of the user named username, or 0 when none is.
func (f *Forge) userID(ctx context.Context, username string) (int64, error) {
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	us, resp, err := f.users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr(username)}, rctx)
	if err != nil {
		return 0, fmt.Errorf("looking up user %s: %w", username, classify(err, resp))
	}
	for _, u := range us {
		if strings.EqualFold(u.Username, username) {
			return u.ID, nil
		}
	}
	return 0, nil
}

// Update sets the title and description of merge request number and
// replaces its labels with labels (none when empty).
func (f *Forge) Update(ctx context.Context, number int, title, body string, labels []string) (*forge.PR, error) {
	ls := gitlab.LabelOptions(labels)
	if ls == nil {
		// An empty, non-nil list is sent as labels="", which clears them.
		ls = gitlab.LabelOptions{}
	}
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	m, resp, err := f.mrs.UpdateMergeRequest(f.path, int64(number), &gitlab.UpdateMergeRequestOptions{
		Title: gitlab.Ptr(title), Description: gitlab.Ptr(body), Labels: &ls,
	}, rctx)
	if err != nil {
		return nil, fmt.Errorf("updating merge request !%d: %w", number, classify(err, resp))
	}
	return f.toPR(&m.BasicMergeRequest), nil
}

// Close leaves comment and closes merge request number; one already closed
// or merged is left alone, so a repeated Close posts no second comment.
func (f *Forge) Close(ctx context.Context, number int, comment string) error {
	m, err := f.get(ctx, number)
	if err != nil {
		return fmt.Errorf("closing merge request !%d: %w", number, err)
	}
	if m.State != "opened" {
		return nil
	}
	if comment != "" {
		rctx, cancel := f.ctx(ctx)
		_, resp, err := f.notes.CreateMergeRequestNote(f.path, int64(number), &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr(comment)}, rctx)
		cancel()
		if err != nil {
			return fmt.Errorf("commenting on merge request !%d: %w", number, classify(err, resp))
		}
	}
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	_, resp, err := f.mrs.UpdateMergeRequest(f.path, int64(number), &gitlab.UpdateMergeRequestOptions{StateEvent: gitlab.Ptr("close")}, rctx)
	if err != nil {
		return fmt.Errorf("closing merge request !%d: %w", number, classify(err, resp))
	}
	return nil
}

// ListMerged returns the merged merge requests labelled label among the
// limit most recently updated merged ones, newest first. GitLab filters by
// state and label itself.
func (f *Forge) ListMerged(ctx context.Context, label string, limit int) ([]*forge.PR, error) {
	var out []*forge.PR
	opt := &gitlab.ListProjectMergeRequestsOptions{
		ListOptions: gitlab.ListOptions{PerPage: int64(min(max(limit, 1), 100)), Page: 1},
		State:       gitlab.Ptr("merged"),
		Labels:      gitlab.Ptr(gitlab.LabelOptions{label}),
		OrderBy:     gitlab.Ptr("updated_at"),
		Sort:        gitlab.Ptr("desc"),
	}
	for len(out) < limit {
		rctx, cancel := f.ctx(ctx)
		ms, resp, err := f.mrs.ListProjectMergeRequests(f.path, opt, rctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("listing merged merge requests: %w", classify(err, resp))
		}
		for _, m := range ms[:min(len(ms), limit-len(out))] {
			if pr := f.toPR(m); pr.State == forge.StateMerged {
				out = append(out, pr)
			}
		}
		if resp == nil || resp.NextPage == 0 || len(ms) == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return out, nil
}

var errNoMergeCommit = errors.New("GitLab reports no merge commit yet")

// Comment implements forge.Commenter: a note on the merge request.
func (f *Forge) Comment(ctx context.Context, number int, body string) error {
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	_, resp, err := f.notes.CreateMergeRequestNote(f.path, int64(number), &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr(body)}, rctx)
	if err != nil {
		return fmt.Errorf("commenting on merge request !%d: %w", number, classify(err, resp))
	}
	return nil
}

var _ forge.Commenter = (*Forge)(nil)
