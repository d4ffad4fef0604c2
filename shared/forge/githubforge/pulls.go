package githubforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

// FindOpen returns the open pull request whose head is branch in the
// repository, or an error wrapping forge.ErrNotFound.
func (f *Forge) FindOpen(ctx context.Context, branch string) (*forge.PR, error) {
	p, err := f.findOpen(ctx, branch)
	if err == nil && p == nil {
		err = forge.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("finding open pull request for %s: %w", branch, err)
	}
	return toPR(p), nil
}

// findOpen returns nil, nil when no open pull request has branch as head.
func (f *Forge) findOpen(ctx context.Context, branch string) (*github.PullRequest, error) {
	head := f.owner + ":" + branch
	opts := &github.PullRequestListOptions{
		State:       "open",
		Head:        head,
		ListOptions: github.ListOptions{PerPage: 100},
	}
	ctx, cancel := f.request(ctx)
	defer cancel()
	prs, _, err := f.pulls.List(ctx, f.owner, f.repo, opts)
	if err != nil {
		return nil, classify(err)
	}
	// GitHub ignores a head filter it cannot parse and lists every open
	// pull request, so check the head of each one.
	for _, p := range prs {
		h := p.GetHead()
		if h.GetRef() == branch && (h.GetLabel() == "" || strings.EqualFold(h.GetLabel(), head)) {
			return p, nil
		}
	}
	return nil, nil
}

// Get returns pull request number.
func (f *Forge) Get(ctx context.Context, number int) (*forge.PR, error) {
	p, err := f.get(ctx, number)
	if err != nil {
		return nil, fmt.Errorf("getting pull request #%d: %w", number, err)
	}
	return toPR(p), nil
}

func (f *Forge) get(ctx context.Context, number int) (*github.PullRequest, error) {
	ctx, cancel := f.request(ctx)
	defer cancel()
	p, _, err := f.pulls.Get(ctx, f.owner, f.repo, number)
	return p, classify(err)
}

// Create opens a pull request from pr.Branch into pr.Base, labels it and
// requests its reviewers. When GitHub answers that a pull request already
// exists for the branch, Create adopts the open one instead, and still
// applies the labels and reviewers, which a failed earlier attempt may have
// missed.
func (f *Forge) Create(ctx context.Context, pr forge.NewPR) (*forge.PR, error) {
	p, err := f.createOrAdopt(ctx, pr)
	if err != nil {
		return nil, err
	}
	out := toPR(p)
	if len(pr.Labels) > 0 {
		rctx, cancel := f.request(ctx)
		labels, _, err := f.issues.AddLabelsToIssue(rctx, f.owner, f.repo, p.GetNumber(), pr.Labels)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("labelling pull request #%d: %w", p.GetNumber(), classify(err))
		}
		out.Labels = labelNames(labels)
	}
	if err := f.requestReviewers(ctx, p, pr.Reviewers); err != nil {
		return nil, fmt.Errorf("requesting reviewers for pull request #%d: %w", p.GetNumber(), err)
	}
	return out, nil
}

func (f *Forge) createOrAdopt(ctx context.Context, pr forge.NewPR) (*github.PullRequest, error) {
	rctx, cancel := f.request(ctx)
	p, _, err := f.pulls.Create(rctx, f.owner, f.repo, &github.NewPullRequest{
		Title: github.String(pr.Title),
		Head:  github.String(pr.Branch),
		Base:  github.String(pr.Base),
		Body:  github.String(pr.Body),
		// Conveyor owns the branch; nobody else should push to it.
		MaintainerCanModify: github.Bool(false),
	})
	cancel()
	if err == nil {
		return p, nil
	}
	if responseStatus(err) != http.StatusUnprocessableEntity || !responseSays(err, "pull request already exists") {
		return nil, fmt.Errorf("creating pull request for %s: %w", pr.Branch, classify(err))
	}
	p, ferr := f.findOpen(ctx, pr.Branch)
	if ferr != nil {
		return nil, fmt.Errorf("finding the existing pull request for %s: %w", pr.Branch, ferr)
	}
	if p == nil {
		// GitHub says one exists but lists none open (yet, or any more):
		// leave the 422 unclassified, transient, so the queue tries again.
		return nil, fmt.Errorf("creating pull request for %s: none listed open: %w", pr.Branch, &apiError{resp: asErrorResponse(err)})
	}
	f.opts.log.InfoContext(ctx, "adopting existing pull request", "branch", pr.Branch, "pr", p.GetNumber())
	return p, nil
}

// requestReviewers splits "org/team" entries into team reviewers by slug
// and plain names into user reviewers, leaving out the author, whom GitHub
// refuses.
func (f *Forge) requestReviewers(ctx context.Context, p *github.PullRequest, reviewers []string) error {
	author := p.GetUser().GetLogin()
	var req github.ReviewersRequest
	for _, r := range reviewers {
		r = strings.TrimPrefix(strings.TrimSpace(r), "@")
		switch _, team, isTeam := strings.Cut(r, "/"); {
		case r == "":
			// Blank entries from configuration are skipped.
		case isTeam:
			req.TeamReviewers = append(req.TeamReviewers, team)
		case strings.EqualFold(r, author):
			f.opts.log.InfoContext(ctx, "not requesting a review from the pull request author", "pr", p.GetNumber(), "reviewer", r)
		default:
			req.Reviewers = append(req.Reviewers, r)
		}
	}
	if len(req.Reviewers) == 0 && len(req.TeamReviewers) == 0 {
		return nil
	}
	ctx, cancel := f.request(ctx)
	defer cancel()
	_, _, err := f.pulls.RequestReviewers(ctx, f.owner, f.repo, p.GetNumber(), req)
	if responseStatus(err) == http.StatusUnprocessableEntity && responseSays(err, "pull request author") {
		f.opts.log.WarnContext(ctx, "GitHub refused a review request from the pull request author",
			"pr", p.GetNumber(), "error", (&apiError{resp: asErrorResponse(err)}).Error())
		return nil
	}
	return classify(err)
}

// Update sets the title and body of pull request number and replaces its
// labels with labels (none when empty).
func (f *Forge) Update(ctx context.Context, number int, title, body string, labels []string) (*forge.PR, error) {
	rctx, cancel := f.request(ctx)
	p, _, err := f.pulls.Edit(rctx, f.owner, f.repo, number, &github.PullRequest{
		Title: github.String(title),
		Body:  github.String(body),
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("updating pull request #%d: %w", number, classify(err))
	}
	if labels == nil {
		// A nil slice would be sent as JSON null; [] clears the labels.
		labels = []string{}
	}
	rctx, cancel = f.request(ctx)
	set, _, err := f.issues.ReplaceLabelsForIssue(rctx, f.owner, f.repo, number, labels)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("replacing labels of pull request #%d: %w", number, classify(err))
	}
	out := toPR(p)
	out.Labels = labelNames(set)
	return out, nil
}

// Close leaves comment on pull request number (none when empty) and closes
// it without merging. A pull request that is already closed, or merged, is
// left alone, so a repeated Close posts no second comment.
func (f *Forge) Close(ctx context.Context, number int, comment string) error {
	p, err := f.get(ctx, number)
	if err != nil {
		return fmt.Errorf("closing pull request #%d: %w", number, err)
	}
	if p.GetState() == forge.StateClosed {
		if isMerged(p) {
			f.opts.log.InfoContext(ctx, "pull request to close is already merged", "pr", number)
		}
		return nil
	}
	if comment != "" {
		rctx, cancel := f.request(ctx)
		_, _, err := f.issues.CreateComment(rctx, f.owner, f.repo, number, &github.IssueComment{Body: github.String(comment)})
		cancel()
		if err != nil {
			return fmt.Errorf("commenting on pull request #%d: %w", number, classify(err))
		}
	}
	rctx, cancel := f.request(ctx)
	defer cancel()
	if _, _, err := f.pulls.Edit(rctx, f.owner, f.repo, number, &github.PullRequest{State: github.String(forge.StateClosed)}); err != nil {
		return fmt.Errorf("closing pull request #%d: %w", number, classify(err))
	}
	return nil
}

// Reviews lists the submitted reviews of pull request number, oldest first,
// with GitHub's upper-case states in lower case ("approved",
// "changes_requested", "commented", and "dismissed" for a dismissed review).
// Pending reviews, which are not submitted yet, are left out.
func (f *Forge) Reviews(ctx context.Context, number int) ([]forge.Review, error) {
	var out []forge.Review
	opts := &github.ListOptions{PerPage: 100}
	for {
		rctx, cancel := f.request(ctx)
		rs, resp, err := f.pulls.ListReviews(rctx, f.owner, f.repo, number, opts)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("listing reviews of pull request #%d: %w", number, classify(err))
		}
		for _, r := range rs {
			state := strings.ToLower(r.GetState())
			if state == "pending" {
				continue
			}
			out = append(out, forge.Review{
				User:     r.GetUser().GetLogin(),
				State:    state,
				CommitID: r.GetCommitID(),
				At:       r.GetSubmittedAt().Time,
			})
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func asErrorResponse(err error) *github.ErrorResponse {
	var resp *github.ErrorResponse
	if errors.As(err, &resp) {
		return resp
	}
	return &github.ErrorResponse{Message: err.Error()}
}

// ListMerged returns the merged pull requests labelled label among the
// limit most recently updated closed ones, newest first. It reads no
// further back than that — a page per 100 — so that a pass spends a
// bounded share of the API budget however long the closed history is
// (a lost merge is recent: it was updated when it merged).
func (f *Forge) ListMerged(ctx context.Context, label string, limit int) ([]*forge.PR, error) {
	var out []*forge.PR
	opts := &github.PullRequestListOptions{State: "closed", Sort: "updated", Direction: "desc",
		ListOptions: github.ListOptions{PerPage: min(max(limit, 1), 100)}}
	for scanned := 0; scanned < limit; {
		rctx, cancel := f.request(ctx)
		prs, resp, err := f.pulls.List(rctx, f.owner, f.repo, opts)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("listing merged pull requests: %w", classify(err))
		}
		for _, p := range prs[:min(len(prs), limit-scanned)] {
			if pr := toPR(p); pr.State == forge.StateMerged && hasLabel(pr.Labels, label) {
				out = append(out, pr)
			}
		}
		scanned += len(prs)
		if resp == nil || resp.NextPage == 0 || len(prs) == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

func hasLabel(labels []string, label string) bool {
	for _, l := range labels {
		if strings.EqualFold(l, label) {
			return true
		}
	}
	return false
}

// Comment implements forge.Commenter: an issue comment on the pull
// request.
func (f *Forge) Comment(ctx context.Context, number int, body string) error {
	rctx, cancel := f.request(ctx)
	defer cancel()
	if _, _, err := f.issues.CreateComment(rctx, f.owner, f.repo, number, &github.IssueComment{Body: github.String(body)}); err != nil {
		return fmt.Errorf("commenting on pull request #%d: %w", number, classify(err))
	}
	return nil
}

var _ forge.Commenter = (*Forge)(nil)
