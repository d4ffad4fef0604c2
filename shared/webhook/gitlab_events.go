package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
)

// GitLabMaxCommits is what a GitLab push webhook lists at most; its
// total_commits_count says how many were pushed.
const GitLabMaxCommits = 20

// glTime is a timestamp in a GitLab webhook: RFC 3339 on current servers,
// "2006-01-02 15:04:05 UTC" on older ones. One it cannot read is left zero
// rather than refusing the event over a field Conveyor only records.
type glTime struct{ time.Time }

func (t *glTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil || s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return nil
}

type glUser struct {
	Name     string `json:"name"`
	Username string `json:"username"`
}

type glProject struct {
	PathWithNamespace string `json:"path_with_namespace"`
	WebURL            string `json:"web_url"`
	GitHTTPURL        string `json:"git_http_url"`
}

type glCommit struct {
	ID        string   `json:"id"`
	Message   string   `json:"message"`
	Timestamp glTime   `json:"timestamp"`
	URL       string   `json:"url"`
	Author    glUser   `json:"author"`
	Added     []string `json:"added"`
	Modified  []string `json:"modified"`
	Removed   []string `json:"removed"`
}

type glPush struct {
	Ref          string     `json:"ref"`
	Before       string     `json:"before"`
	After        string     `json:"after"`
	UserName     string     `json:"user_name"`
	UserUsername string     `json:"user_username"`
	Project      *glProject `json:"project"`
	Commits      []glCommit `json:"commits"`
	TotalCommits *int       `json:"total_commits_count"`
}

type glMergeRequestEvent struct {
	User       glUser     `json:"user"`
	Project    *glProject `json:"project"`
	Attributes *struct {
		IID            int    `json:"iid"`
		Title          string `json:"title"`
		SourceBranch   string `json:"source_branch"`
		TargetBranch   string `json:"target_branch"`
		Action         string `json:"action"`
		MergeCommitSHA string `json:"merge_commit_sha"`
		UpdatedAt      glTime `json:"updated_at"`
		LastCommit     struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
	Labels []struct {
		Title string `json:"title"`
	} `json:"labels"`
}

// ClassifyGitLab normalises one GitLab webhook into the events GitHub's
// produce. name is the X-Gitlab-Event header. Events and actions Conveyor
// does not handle are ignored, not rejected.
func ClassifyGitLab(name string, body []byte) (Classification, error) {
	switch name {
	case "Push Hook", "Tag Push Hook":
		return classifyGitLabPush(name, body)
	case "Merge Request Hook":
		return classifyGitLabMergeRequest(name, body)
	case "":
		return Classification{}, fmt.Errorf("%w: missing X-Gitlab-Event header", ErrMalformed)
	}
	if !json.Valid(body) {
		return Classification{}, fmt.Errorf("%w: %s body is not JSON", ErrMalformed, name)
	}
	return Classification{Ignore: fmt.Sprintf("event %q is not handled", name)}, nil
}

// classifyGitLabPush reads a push in GitLab's words into GitHub's push and
// classifies that: GitLab marks a deleted branch by an all-zero after and
// lists at most GitLabMaxCommits commits of total_commits_count.
func classifyGitLabPush(name string, body []byte) (Classification, error) {
	var g glPush
	if err := decode(name, body, &g); err != nil {
		return Classification{}, err
	}
	if g.Project == nil || g.Project.PathWithNamespace == "" || g.Ref == "" || g.After == "" {
		return Classification{}, fmt.Errorf("%w: %s needs project.path_with_namespace, ref and after", ErrMalformed, name)
	}
	p := ghPush{
		Ref: g.Ref, Before: g.Before, After: g.After, Deleted: strings.Trim(g.After, "0") == "",
		Repository: &ghRepo{FullName: g.Project.PathWithNamespace, CloneURL: g.Project.GitHTTPURL, HTMLURL: g.Project.WebURL},
		// GitHub's pusher is a login; GitLab's user_name a display name.
		Pusher:       ghUser{Name: first(g.UserUsername, g.UserName)},
		TotalCommits: g.TotalCommits,
	}
	for _, c := range g.Commits {
		gc := ghCommit{ID: c.ID, Message: c.Message, Timestamp: c.Timestamp.Time, URL: c.URL,
			Author: ghUser{Name: c.Author.Name}, Added: c.Added, Modified: c.Modified, Removed: c.Removed}
		p.Commits = append(p.Commits, gc)
		if c.ID == g.After {
			p.HeadCommit = &gc
		}
	}
	return pushClassification(p, GitLabMaxCommits)
}

// classifyGitLabMergeRequest turns a merge request's approval, merge or
// close into the review event GitHub's pull_request and review events give.
// "approval" is one user's approval, "approved" the one that completed the
// required approvals; both are an approval by the event's user, at the
// merge request's last commit. Like every review event it is a hint the
// approval function confirms with the forge.
func classifyGitLabMergeRequest(name string, body []byte) (Classification, error) {
	var e glMergeRequestEvent
	if err := decode(name, body, &e); err != nil {
		return Classification{}, err
	}
	a := e.Attributes
	if a == nil || a.IID == 0 || e.Project == nil || e.Project.PathWithNamespace == "" {
		return Classification{}, fmt.Errorf("%w: %s needs object_attributes.iid and project.path_with_namespace", ErrMalformed, name)
	}
	r := event.Review{Repository: e.Project.PathWithNamespace, Number: a.IID, Title: a.Title, HeadRef: a.SourceBranch,
		HeadSHA: a.LastCommit.ID, BaseRef: a.TargetBranch, At: a.UpdatedAt.Time}
	for _, l := range e.Labels {
		r.Labels = append(r.Labels, l.Title)
	}
	switch a.Action {
	case "approval", "approved":
		r.Action, r.Reviewer, r.ReviewCommit = event.ReviewApproved, e.User.Username, a.LastCommit.ID
	case "merge":
		r.Action, r.MergeCommit, r.MergedBy = event.ReviewMerged, a.MergeCommitSHA, e.User.Username
	case "close":
		r.Action = event.ReviewClosed
	default:
		return Classification{Ignore: fmt.Sprintf("merge_request action %q is not handled", a.Action)}, nil
	}
	return Classification{Kind: event.KindReview, Payload: r}, nil
}
