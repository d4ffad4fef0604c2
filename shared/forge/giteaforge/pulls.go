package giteaforge

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

type user struct {
	Login string `json:"login"`
}

type label struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type pull struct {
	Number  int     `json:"number"`
	HTMLURL string  `json:"html_url"`
	Title   string  `json:"title"`
	Body    string  `json:"body"`
	State   string  `json:"state"`
	Labels  []label `json:"labels"`
	Head    struct {
		Ref  string `json:"ref"`
		SHA  string `json:"sha"`
		Repo struct {
			FullName string `json:"full_name"`
		} `json:"repo"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Mergeable      *bool      `json:"mergeable"`
	Merged         bool       `json:"merged"`
	MergedAt       *time.Time `json:"merged_at"`
	MergeCommitSHA *string    `json:"merge_commit_sha"`
	MergedBy       *user      `json:"merged_by"`
	CreatedAt      time.Time  `json:"created_at"`
}

func (p *pull) toPR() *forge.PR {
	pr := &forge.PR{Number: p.Number, URL: p.HTMLURL, Title: p.Title, Body: p.Body, Branch: p.Head.Ref,
		Base: p.Base.Ref, HeadRepo: p.Head.Repo.FullName, HeadSHA: p.Head.SHA, State: p.State,
		Mergeable: p.Mergeable, CreatedAt: p.CreatedAt}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.Name)
	}
	if p.Merged {
		pr.State = forge.StateMerged
		if p.MergeCommitSHA != nil {
			pr.MergeCommit = *p.MergeCommitSHA
		}
		if p.MergedBy != nil {
			pr.MergedBy = p.MergedBy.Login
		}
		if p.MergedAt != nil {
			pr.MergedAt = *p.MergedAt
		}
	}
	return pr
}

// FindOpen returns the open pull request whose head is branch, or an error
// wrapping forge.ErrNotFound.
func (f *Forge) FindOpen(ctx context.Context, branch string) (*forge.PR, error) {
	p, err := f.findOpen(ctx, branch)
	if err == nil && p == nil {
		err = forge.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("finding open pull request for %s: %w", branch, err)
	}
	return p.toPR(), nil
}

// findOpen pages through the open pull requests: Gitea's list has no head
// filter.
func (f *Forge) findOpen(ctx context.Context, branch string) (*pull, error) {
	for page := 1; ; page++ {
		var ps []pull
		if err := f.call(ctx, http.MethodGet, fmt.Sprintf("pulls?state=open&limit=50&page=%d", page), nil, &ps); err != nil {
			return nil, err
		}
		for i := range ps {
			if ps[i].Head.Ref == branch && (ps[i].Head.Repo.FullName == "" || strings.EqualFold(ps[i].Head.Repo.FullName, f.owner+"/"+f.repo)) {
				return &ps[i], nil
			}
		}
		if len(ps) < 50 {
			return nil, nil
		}
	}
}

// Get returns pull request number.
func (f *Forge) Get(ctx context.Context, number int) (*forge.PR, error) {
	p, err := f.get(ctx, number)
	if err != nil {
		return nil, fmt.Errorf("getting pull request #%d: %w", number, err)
	}
	return p.toPR(), nil
}

func (f *Forge) get(ctx context.Context, number int) (*pull, error) {
	var p pull
	return &p, f.call(ctx, http.MethodGet, fmt.Sprintf("pulls/%d", number), nil, &p)
}

// Create opens a pull request, or adopts the open one for the branch (Gitea
// answers 409 for a second), then sets its labels and requests reviewers,
// which a failed earlier attempt may have missed.
func (f *Forge) Create(ctx context.Context, in forge.NewPR) (*forge.PR, error) {
	var p pull
	err := f.call(ctx, http.MethodPost, "pulls", map[string]any{"head": in.Branch, "base": in.Base, "title": in.Title, "body": in.Body}, &p)
	if status(err) == http.StatusConflict {
		existing, ferr := f.findOpen(ctx, in.Branch)
		if ferr != nil {
			return nil, fmt.Errorf("finding the existing pull request for %s: %w", in.Branch, ferr)
		}
		if existing == nil {
			// Gitea says one exists but lists none open (yet, or any
			// more): transient, so the queue tries again.
			return nil, fmt.Errorf("creating pull request for %s: none listed open (%s)", in.Branch, err.Error())
		}
		p, err = *existing, nil
	}
	if err != nil {
		return nil, fmt.Errorf("creating pull request for %s: %w", in.Branch, err)
	}
	if len(in.Labels) > 0 {
		ids, err := f.labelIDs(ctx, in.Labels)
		if err != nil {
			return nil, fmt.Errorf("labelling pull request #%d: %w", p.Number, err)
		}
		var set []label
		if err := f.call(ctx, http.MethodPost, fmt.Sprintf("issues/%d/labels", p.Number), map[string]any{"labels": ids}, &set); err != nil {
			return nil, fmt.Errorf("labelling pull request #%d: %w", p.Number, err)
		}
		p.Labels = set
	}
	if err := f.requestReviewers(ctx, p.Number, in.Reviewers); err != nil {
		return nil, fmt.Errorf("requesting reviewers for pull request #%d: %w", p.Number, err)
	}
	return p.toPR(), nil
}

// requestReviewers splits "org/team" entries into team reviewers.
func (f *Forge) requestReviewers(ctx context.Context, number int, reviewers []string) error {
	users, teams := []string{}, []string{}
	for _, r := range reviewers {
		r = strings.TrimPrefix(strings.TrimSpace(r), "@")
		if _, team, ok := strings.Cut(r, "/"); ok {
			teams = append(teams, team)
		} else if r != "" {
			users = append(users, r)
		}
	}
	if len(users)+len(teams) == 0 {
		return nil
	}
	err := f.call(ctx, http.MethodPost, fmt.Sprintf("pulls/%d/requested_reviewers", number), map[string]any{"reviewers": users, "team_reviewers": teams}, nil)
	if status(err) == http.StatusUnprocessableEntity {
		// The author, or someone without access: a request, not a gate.
		return nil
	}
	return err
}

// labelIDs resolves label names to the repository's label ids, creating the
// missing ones: Gitea's issue-label endpoints take ids.
func (f *Forge) labelIDs(ctx context.Context, names []string) ([]int64, error) {
	have := map[string]int64{}
	for page := 1; ; page++ {
		var ls []label
		if err := f.call(ctx, http.MethodGet, fmt.Sprintf("labels?limit=50&page=%d", page), nil, &ls); err != nil {
			return nil, err
		}
		for _, l := range ls {
			have[strings.ToLower(l.Name)] = l.ID
		}
		if len(ls) < 50 {
			break
		}
	}
	ids := []int64{}
	for _, n := range names {
		id, ok := have[strings.ToLower(n)]
		if !ok {
			var l label
			if err := f.call(ctx, http.MethodPost, "labels", map[string]any{"name": n, "color": "#0e8a16"}, &l); err != nil {
				return nil, fmt.Errorf("creating label %q: %w", n, err)
			}
			id = l.ID
			have[strings.ToLower(n)] = id
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Update sets the title and body of pull request number and replaces its
// labels with labels (none when empty).
func (f *Forge) Update(ctx context.Context, number int, title, body string, labels []string) (*forge.PR, error) {
	var p pull
	if err := f.call(ctx, http.MethodPatch, fmt.Sprintf("pulls/%d", number), map[string]any{"title": title, "body": body}, &p); err != nil {
		return nil, fmt.Errorf("updating pull request #%d: %w", number, err)
	}
	ids, err := f.labelIDs(ctx, labels)
	if err != nil {
		return nil, fmt.Errorf("replacing labels of pull request #%d: %w", number, err)
	}
	var set []label
	if err := f.call(ctx, http.MethodPut, fmt.Sprintf("issues/%d/labels", number), map[string]any{"labels": ids}, &set); err != nil {
		return nil, fmt.Errorf("replacing labels of pull request #%d: %w", number, err)
	}
	p.Labels = set
	return p.toPR(), nil
}

// Close leaves comment and closes pull request number; one already closed
// or merged is left alone, so a repeated Close posts no second comment.
func (f *Forge) Close(ctx context.Context, number int, comment string) error {
	p, err := f.get(ctx, number)
	if err != nil {
		return fmt.Errorf("closing pull request #%d: %w", number, err)
	}
	if p.State != forge.StateOpen {
		return nil
	}
	if comment != "" {
		if err := f.call(ctx, http.MethodPost, fmt.Sprintf("issues/%d/comments", number), map[string]any{"body": comment}, nil); err != nil {
			return fmt.Errorf("commenting on pull request #%d: %w", number, err)
		}
	}
	if err := f.call(ctx, http.MethodPatch, fmt.Sprintf("pulls/%d", number), map[string]any{"state": "closed"}, nil); err != nil {
		return fmt.Errorf("closing pull request #%d: %w", number, err)
	}
	return nil
}

// Reviews lists the submitted reviews of pull request number, oldest first,
// in the port's states; pending reviews and review requests are left out.
func (f *Forge) Reviews(ctx context.Context, number int) ([]forge.Review, error) {
	var out []forge.Review
	for page := 1; ; page++ {
		var rs []struct {
			User        *user     `json:"user"`
			State       string    `json:"state"`
			CommitID    string    `json:"commit_id"`
			SubmittedAt time.Time `json:"submitted_at"`
			Dismissed   bool      `json:"dismissed"`
		}
		if err := f.call(ctx, http.MethodGet, fmt.Sprintf("pulls/%d/reviews?limit=50&page=%d", number, page), nil, &rs); err != nil {
			return nil, fmt.Errorf("listing reviews of pull request #%d: %w", number, err)
		}
		for _, r := range rs {
			state := map[string]string{"APPROVED": "approved", "REQUEST_CHANGES": "changes_requested", "COMMENT": "commented"}[r.State]
			if r.Dismissed {
				state = "dismissed"
			}
			if state == "" || r.User == nil {
				continue
			}
			out = append(out, forge.Review{User: r.User.Login, State: state, CommitID: r.CommitID, At: r.SubmittedAt})
		}
		if len(rs) < 50 {
			return out, nil
		}
	}
}

// ListMerged returns the merged pull requests labelled label among the
// limit most recently updated closed ones, newest first.
func (f *Forge) ListMerged(ctx context.Context, label string, limit int) ([]*forge.PR, error) {
	var out []*forge.PR
	per := min(max(limit, 1), 50)
	for page, scanned := 1, 0; scanned < limit; page++ {
		var ps []pull
		if err := f.call(ctx, http.MethodGet, fmt.Sprintf("pulls?state=closed&sort=recentupdate&limit=%d&page=%d", per, page), nil, &ps); err != nil {
			return nil, fmt.Errorf("listing merged pull requests: %w", err)
		}
		for _, p := range ps[:min(len(ps), limit-scanned)] {
			if pr := p.toPR(); pr.State == forge.StateMerged && slices.ContainsFunc(pr.Labels, func(l string) bool { return strings.EqualFold(l, label) }) {
				out = append(out, pr)
			}
		}
		scanned += len(ps)
		if len(ps) < per {
			break
		}
	}
	return out, nil
}

// Comment implements forge.Commenter: an issue comment on the pull
// request.
func (f *Forge) Comment(ctx context.Context, number int, body string) error {
	if err := f.call(ctx, http.MethodPost, fmt.Sprintf("issues/%d/comments", number), map[string]any{"body": body}, nil); err != nil {
		return fmt.Errorf("commenting on pull request #%d: %w", number, err)
	}
	return nil
}

var _ forge.Commenter = (*Forge)(nil)
