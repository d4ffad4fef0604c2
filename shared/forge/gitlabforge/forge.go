package gitlabforge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

var _ forge.Forge = (*Forge)(nil)

// mergeRequests is the part of client-go's MergeRequestsService the adapter
// uses, with its exact signatures.
type mergeRequests interface {
	ListProjectMergeRequests(pid any, opt *gitlab.ListProjectMergeRequestsOptions, options ...gitlab.RequestOptionFunc) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error)
	GetMergeRequest(pid any, mergeRequest int64, opt *gitlab.GetMergeRequestsOptions, options ...gitlab.RequestOptionFunc) (*gitlab.MergeRequest, *gitlab.Response, error)
	CreateMergeRequest(pid any, opt *gitlab.CreateMergeRequestOptions, options ...gitlab.RequestOptionFunc) (*gitlab.MergeRequest, *gitlab.Response, error)
	UpdateMergeRequest(pid any, mergeRequest int64, opt *gitlab.UpdateMergeRequestOptions, options ...gitlab.RequestOptionFunc) (*gitlab.MergeRequest, *gitlab.Response, error)
	AcceptMergeRequest(pid any, mergeRequest int64, opt *gitlab.AcceptMergeRequestOptions, options ...gitlab.RequestOptionFunc) (*gitlab.MergeRequest, *gitlab.Response, error)
	GetMergeRequestDiffVersions(pid any, mergeRequest int64, opt *gitlab.GetMergeRequestDiffVersionsOptions, options ...gitlab.RequestOptionFunc) ([]*gitlab.MergeRequestDiffVersion, *gitlab.Response, error)
}

// notes is the part of client-go's NotesService the adapter uses.
type notes interface {
	CreateMergeRequestNote(pid any, mergeRequest int64, opt *gitlab.CreateMergeRequestNoteOptions, options ...gitlab.RequestOptionFunc) (*gitlab.Note, *gitlab.Response, error)
}

// commits is the part of client-go's CommitsService the adapter uses.
type commits interface {
	GetCommitStatuses(pid any, sha string, opt *gitlab.GetCommitStatusesOptions, options ...gitlab.RequestOptionFunc) ([]*gitlab.CommitStatus, *gitlab.Response, error)
}

// projects is the part of client-go's ProjectsService the adapter uses.
type projects interface {
	GetApprovalConfiguration(pid any, options ...gitlab.RequestOptionFunc) (*gitlab.ProjectApprovals, *gitlab.Response, error)
}

// users is the part of client-go's UsersService the adapter uses.
type users interface {
	ListUsers(opt *gitlab.ListUsersOptions, options ...gitlab.RequestOptionFunc) ([]*gitlab.User, *gitlab.Response, error)
}

// groupMembers is the part of client-go's GroupMembersService the adapter
// uses.
type groupMembers interface {
	GetInheritedGroupMember(gid any, user int64, options ...gitlab.RequestOptionFunc) (*gitlab.GroupMember, *gitlab.Response, error)
}

// requester sends a request client-go has no typed call for: the approvals
// answer's approved_at, which client-go v1.46 does not decode.
type requester interface {
	NewRequest(method, path string, opt any, options []gitlab.RequestOptionFunc) (*retryablehttp.Request, error)
	Do(req *retryablehttp.Request, v any) (*gitlab.Response, error)
}

// Forge is the forge.Forge adapter for one GitLab project.
type Forge struct {
	mrs     mergeRequests
	notes   notes
	commits commits
	project projects
	users   users
	members groupMembers
	raw     requester
	// path is the project's full path ("group/subgroup/gitops"), which
	// GitLab accepts wherever it takes a project id.
	path string
	opts options
}

// Option configures a Forge.
type Option func(*options)

type options struct {
	log            *slog.Logger
	requestTimeout time.Duration
}

// Defaults, set in one place.
func defaultOptions() options {
	return options{log: slog.New(slog.DiscardHandler), requestTimeout: 30 * time.Second}
}

// WithLogger sets the logger for outcomes the adapter tolerates (an adopted
// merge request, a reviewer GitLab does not know). The default discards; nil
// keeps it.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithRequestTimeout bounds each GitLab API request (default 30 s); a
// non-positive value keeps the default.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.requestTimeout = d
		}
	}
}

// New returns a Forge for the GitLab project at projectPath
// ("group/subgroup/gitops"). client must already be authenticated (see
// NewClient); the Forge never handles credentials.
func New(client *gitlab.Client, projectPath string, opts ...Option) *Forge {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Forge{
		mrs:     client.MergeRequests,
		notes:   client.Notes,
		commits: client.Commits,
		project: client.Projects,
		users:   client.Users,
		members: client.GroupMembers,
		raw:     client,
		path:    strings.Trim(projectPath, "/"),
		opts:    o,
	}
}

// NewClient returns a GitLab API client for the instance at baseURL
// ("https://gitlab.example.com", or with its "/api/v4" suffix) that sends
// token (a project, group or personal access token with the api scope) as
// PRIVATE-TOKEN. client-go's own retries are off: the queue retries, after
// the adapter has classified the failure. httpClient may be nil.
func NewClient(baseURL, token string, httpClient *http.Client) (*gitlab.Client, error) {
	if token == "" {
		return nil, fmt.Errorf("creating GitLab client for %s: empty token", baseURL)
	}
	// Each API call is reported to the runtime's forge.Observer.
	c := http.Client{}
	if httpClient != nil {
		c = *httpClient
	}
	c.Transport = forge.Instrument("gitlab", c.Transport)
	opts := []gitlab.ClientOptionFunc{gitlab.WithBaseURL(baseURL), gitlab.WithoutRetries(), gitlab.WithHTTPClient(&c)}
	gl, err := gitlab.NewClient(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating GitLab client for %s: %w", baseURL, err)
	}
	return gl, nil
}

// ctx gives one API call its own timeout, passed to client-go as a request
// option.
func (f *Forge) ctx(ctx context.Context) (gitlab.RequestOptionFunc, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.requestTimeout)
	return gitlab.WithContext(ctx), cancel
}

// toPR converts a merge request. Number is its IID. A merge request from a
// fork carries the fork's project id as HeadRepo, so that it never matches
// the GitOps project's path.
func (f *Forge) toPR(m *gitlab.BasicMergeRequest) *forge.PR {
	pr := &forge.PR{
		Number:    int(m.IID),
		URL:       m.WebURL,
		Title:     m.Title,
		Body:      m.Description,
		Branch:    m.SourceBranch,
		Base:      m.TargetBranch,
		HeadRepo:  f.path,
		HeadSHA:   m.SHA,
		Labels:    []string(m.Labels),
		Mergeable: mergeable(m),
	}
	if m.SourceProjectID != 0 && m.TargetProjectID != 0 && m.SourceProjectID != m.TargetProjectID {
		pr.HeadRepo = "gitlab-project-" + strconv.FormatInt(m.SourceProjectID, 10)
	}
	if m.CreatedAt != nil {
		pr.CreatedAt = *m.CreatedAt
	}
	switch m.State {
	case "merged":
		pr.State = forge.StateMerged
		pr.MergeCommit = mergeCommit(m)
		if m.MergedBy != nil {
			pr.MergedBy = m.MergedBy.Username
		}
		if m.MergeUser != nil {
			pr.MergedBy = m.MergeUser.Username
		}
		if m.MergedAt != nil {
			pr.MergedAt = *m.MergedAt
		}
	case "opened", "locked":
		// "locked" is a merge in progress: still open until it lands.
		pr.State = forge.StateOpen
	default:
		pr.State = forge.StateClosed
	}
	return pr
}

// mergeCommit is the commit a merged merge request put on its target: the
// merge commit, else the squashed commit, else (a fast-forward merge) its
// head itself.
func mergeCommit(m *gitlab.BasicMergeRequest) string {
	switch {
	case m.MergeCommitSHA != "":
		return m.MergeCommitSHA
	case m.SquashCommitSHA != "":
		return m.SquashCommitSHA
	}
	return m.SHA
}

// mergeable reads detailed_merge_status (GitLab ≥ 15.6): nil while GitLab is
// still checking, false for a state only a change to the merge request
// clears.
func mergeable(m *gitlab.BasicMergeRequest) *bool {
	yes, no := true, false
	switch m.DetailedMergeStatus {
	case "mergeable":
		return &yes
	case "", "unchecked", "checking", "preparing", "approvals_syncing":
		return nil
	}
	return &no
}
