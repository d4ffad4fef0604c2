package githubforge

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

var _ forge.Forge = (*Forge)(nil)

// pullRequests is the part of go-github's PullRequestsService the adapter
// uses, with its exact signatures.
type pullRequests interface {
	List(ctx context.Context, owner string, repo string, opts *github.PullRequestListOptions) ([]*github.PullRequest, *github.Response, error)
	Get(ctx context.Context, owner string, repo string, number int) (*github.PullRequest, *github.Response, error)
	Create(ctx context.Context, owner string, repo string, pull *github.NewPullRequest) (*github.PullRequest, *github.Response, error)
	Edit(ctx context.Context, owner string, repo string, number int, pull *github.PullRequest) (*github.PullRequest, *github.Response, error)
	Merge(ctx context.Context, owner string, repo string, number int, commitMessage string, options *github.PullRequestOptions) (*github.PullRequestMergeResult, *github.Response, error)
	RequestReviewers(ctx context.Context, owner, repo string, number int, reviewers github.ReviewersRequest) (*github.PullRequest, *github.Response, error)
	ListReviews(ctx context.Context, owner, repo string, number int, opts *github.ListOptions) ([]*github.PullRequestReview, *github.Response, error)
}

// issues is the part of go-github's IssuesService the adapter uses.
type issues interface {
	AddLabelsToIssue(ctx context.Context, owner string, repo string, number int, labels []string) ([]*github.Label, *github.Response, error)
	ReplaceLabelsForIssue(ctx context.Context, owner string, repo string, number int, labels []string) ([]*github.Label, *github.Response, error)
	CreateComment(ctx context.Context, owner string, repo string, number int, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
}

// statuses is the part of go-github's RepositoriesService the adapter uses.
type statuses interface {
	GetCombinedStatus(ctx context.Context, owner, repo, ref string, opts *github.ListOptions) (*github.CombinedStatus, *github.Response, error)
}

// checkRuns is the part of go-github's ChecksService the adapter uses.
type checkRuns interface {
	ListCheckRunsForRef(ctx context.Context, owner, repo, ref string, opts *github.ListCheckRunsOptions) (*github.ListCheckRunsResults, *github.Response, error)
}

// teams is the part of go-github's TeamsService the adapter uses.
type teams interface {
	GetTeamMembershipBySlug(ctx context.Context, org, slug, user string) (*github.Membership, *github.Response, error)
}

// Forge is the forge.Forge adapter for one GitHub repository.
type Forge struct {
	teams    teams
	pulls    pullRequests
	issues   issues
	statuses statuses
	checks   checkRuns
	owner    string
	repo     string
	opts     options
}

// Option configures a Forge.
type Option func(*options)

type options struct {
	log            *slog.Logger
	pollAttempts   int
	pollWait       time.Duration
	requestTimeout time.Duration
}

// Defaults, set in one place.
func defaultOptions() options {
	return options{
		log:            slog.New(slog.DiscardHandler),
		pollAttempts:   5,
		pollWait:       2 * time.Second,
		requestTimeout: 30 * time.Second,
	}
}

// WithLogger sets the logger for outcomes the adapter tolerates (an adopted
// pull request, a reviewer GitHub refused). The default discards; nil keeps
// it.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithMergeablePoll sets how many times Merge re-fetches a pull request
// whose mergeability GitHub is still computing, and the wait before each
// re-fetch. The default is 5 re-fetches 2 s apart; a negative value keeps the
// default, and 0 attempts merges without waiting.
func WithMergeablePoll(attempts int, wait time.Duration) Option {
	return func(o *options) {
		if attempts >= 0 {
			o.pollAttempts = attempts
		}
		if wait >= 0 {
			o.pollWait = wait
		}
	}
}

// WithRequestTimeout bounds each GitHub API request (default 30 s); a
// non-positive value keeps the default.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.requestTimeout = d
		}
	}
}

// New returns a Forge for the repository owner/repo. client must already be
// authenticated; the Forge never handles credentials.
func New(client *github.Client, owner, repo string, opts ...Option) *Forge {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Forge{
		teams:    client.Teams,
		pulls:    client.PullRequests,
		issues:   client.Issues,
		statuses: client.Repositories,
		checks:   client.Checks,
		owner:    owner,
		repo:     repo,
		opts:     o,
	}
}

// request gives one API call its own timeout.
func (f *Forge) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.opts.requestTimeout)
}

// toPR converts a go-github pull request. GitHub reports merge_commit_sha
// for open pull requests too (a test merge), so MergeCommit is only set once
// merged.
func toPR(p *github.PullRequest) *forge.PR {
	pr := &forge.PR{
		Number:    p.GetNumber(),
		URL:       p.GetHTMLURL(),
		Title:     p.GetTitle(),
		Body:      p.GetBody(),
		Branch:    p.GetHead().GetRef(),
		Base:      p.GetBase().GetRef(),
		HeadRepo:  p.GetHead().GetRepo().GetFullName(),
		HeadSHA:   p.GetHead().GetSHA(),
		State:     p.GetState(),
		Mergeable: p.Mergeable,
		CreatedAt: p.GetCreatedAt().Time,
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	if isMerged(p) {
		pr.State = forge.StateMerged
		pr.MergeCommit = p.GetMergeCommitSHA()
		pr.MergedBy = p.GetMergedBy().GetLogin()
		pr.MergedAt = p.GetMergedAt().Time
	}
	return pr
}

// isMerged also looks at merged_at because list responses omit "merged".
func isMerged(p *github.PullRequest) bool {
	return p.GetMerged() || !p.GetMergedAt().IsZero()
}

func labelNames(ls []*github.Label) []string {
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		names = append(names, l.GetName())
	}
	return names
}
