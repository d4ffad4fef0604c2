package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/conveyor-gitops/conveyor/shared/event"
)

// ErrMalformed marks a body that is not the JSON its event promises; it is
// answered with 400.
var ErrMalformed = errors.New("malformed payload")

// Classification is what the ingress does with one event.
type Classification struct {
	// Kind and Payload are set for an event to enqueue.
	Kind    event.Kind
	Payload any
	// Ignore explains why an event is accepted but not enqueued.
	Ignore string
	// Pong is set for GitHub's ping.
	Pong bool
}

type ghRepo struct {
	FullName string `json:"full_name"`
	CloneURL string `json:"clone_url"`
	HTMLURL  string `json:"html_url"`
}

type ghUser struct {
	Login    string `json:"login"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

type ghCommit struct {
	ID        string    `json:"id"`
	Message   string    `json:"message"`
	Timestamp time.Time `json:"timestamp"`
	URL       string    `json:"url"`
	Author    ghUser    `json:"author"`
	Added     []string  `json:"added"`
	Removed   []string  `json:"removed"`
	Modified  []string  `json:"modified"`
}

type ghPush struct {
	Ref        string     `json:"ref"`
	Before     string     `json:"before"`
	After      string     `json:"after"`
	Deleted    bool       `json:"deleted"`
	Forced     bool       `json:"forced"`
	Repository *ghRepo    `json:"repository"`
	Pusher     ghUser     `json:"pusher"`
	HeadCommit *ghCommit  `json:"head_commit"`
	Commits    []ghCommit `json:"commits"`
	// TotalCommits is Gitea's and Forgejo's count of pushed commits, of
	// which Commits lists only the first few; GitHub does not send it.
	TotalCommits *int `json:"total_commits"`
}

// Commit caps of push webhooks: past its cap a sender lists only the first
// commits, so their changed files are not the whole push.
const (
	// GitHubMaxCommits is what a GitHub push webhook lists at most (the
	// Events API's cap of 20 does not apply to webhooks).
	GitHubMaxCommits = 2048
	// GiteaMaxCommits is Gitea's and Forgejo's default, used only when a
	// push carries no total_commits to compare with.
	GiteaMaxCommits = 5
)

type ghPR struct {
	Number         int        `json:"number"`
	Title          string     `json:"title"`
	Merged         bool       `json:"merged"`
	MergeCommitSHA string     `json:"merge_commit_sha"`
	MergedBy       *ghUser    `json:"merged_by"`
	MergedAt       *time.Time `json:"merged_at"`
	ClosedAt       *time.Time `json:"closed_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Head           struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

type ghPullRequestEvent struct {
	Action      string  `json:"action"`
	PullRequest *ghPR   `json:"pull_request"`
	Repository  *ghRepo `json:"repository"`
}

type ghReviewEvent struct {
	Action string `json:"action"`
	Review *struct {
		State       string    `json:"state"`
		User        ghUser    `json:"user"`
		CommitID    string    `json:"commit_id"`
		SubmittedAt time.Time `json:"submitted_at"`
	} `json:"review"`
	PullRequest *ghPR   `json:"pull_request"`
	Repository  *ghRepo `json:"repository"`
}

// ClassifyGitHub normalises one GitHub webhook. name is the X-GitHub-Event
// header. Events Conveyor does not handle are ignored, not rejected: a
// repository hook often sends more than it needs to.
func ClassifyGitHub(name string, body []byte) (Classification, error) {
	return classify(name, body, GitHubMaxCommits)
}

// ClassifyGitea normalises one Gitea or Forgejo webhook, which speaks
// GitHub's dialect with a few words of its own (total_commits, review
// events named pull_request_approved). name is the X-Gitea-Event header.
func ClassifyGitea(name string, body []byte) (Classification, error) {
	return classify(name, body, GiteaMaxCommits)
}

func classify(name string, body []byte, maxCommits int) (Classification, error) {
	switch name {
	case "ping":
		if !json.Valid(body) {
			return Classification{}, fmt.Errorf("%w: ping body is not JSON", ErrMalformed)
		}
		return Classification{Pong: true}, nil
	case "push":
		return classifyPush(body, maxCommits)
	case "pull_request":
		return classifyPullRequest(body)
	case "pull_request_review":
		return classifyReview(body)
	case "pull_request_approved", "pull_request_rejected", "pull_request_review_approved", "pull_request_review_rejected":
		return classifyGiteaReview(name, body)
	case "package", "registry_package":
		return classifyPackage(name, body)
	case "":
		return Classification{}, fmt.Errorf("%w: missing X-GitHub-Event header", ErrMalformed)
	}
	if !json.Valid(body) {
		return Classification{}, fmt.Errorf("%w: %s body is not JSON", ErrMalformed, name)
	}
	return Classification{Ignore: fmt.Sprintf("event %q is not handled", name)}, nil
}

func decode(name string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return nil
}

func classifyPush(body []byte, maxCommits int) (Classification, error) {
	var p ghPush
	if err := decode("push", body, &p); err != nil {
		return Classification{}, err
	}
	return pushClassification(p, maxCommits)
}

// pushClassification normalises a decoded push, whichever forge's dialect
// it was decoded from.
func pushClassification(p ghPush, maxCommits int) (Classification, error) {
	if p.Repository == nil || p.Repository.FullName == "" || p.Ref == "" || p.After == "" {
		return Classification{}, fmt.Errorf("%w: push needs repository.full_name, ref and after", ErrMalformed)
	}
	out := event.Push{
		Repository: p.Repository.FullName,
		CloneURL:   p.Repository.CloneURL,
		HTMLURL:    p.Repository.HTMLURL,
		Ref:        p.Ref,
		Before:     p.Before,
		After:      p.After,
		Deleted:    p.Deleted,
		Forced:     p.Forced,
		Pusher:     first(p.Pusher.Name, p.Pusher.Login, p.Pusher.Username),
	}
	switch {
	case strings.HasPrefix(p.Ref, "refs/heads/"):
		out.Branch = strings.TrimPrefix(p.Ref, "refs/heads/")
	case strings.HasPrefix(p.Ref, "refs/tags/"):
		out.Tag = strings.TrimPrefix(p.Ref, "refs/tags/")
	}
	if h := p.HeadCommit; h != nil && !p.Deleted {
		out.Commit = &event.Commit{ID: h.ID, Message: truncate(h.Message, 4096), Timestamp: h.Timestamp, URL: h.URL,
			Author: first(h.Author.Username, h.Author.Name)}
	}
	seen := map[string]bool{}
	for _, c := range p.Commits {
		for _, list := range [][]string{c.Added, c.Removed, c.Modified} {
			for _, f := range list {
				if seen[f] {
					continue
				}
				if len(out.ChangedFiles) == event.MaxChangedFiles {
					out.Truncated = true
					continue
				}
				seen[f] = true
				out.ChangedFiles = append(out.ChangedFiles, f)
			}
		}
	}
	if partialCommits(p, maxCommits) {
		out.Truncated = true
	}
	return Classification{Kind: event.KindPush, Payload: out}, nil
}

// partialCommits reports whether a push lists fewer commits than it
// pushed, so its file list is not the whole story: fewer than the sender's
// total_commits, as many as the sender's cap when it sends no total, or
// none at all for a push that deleted nothing (a new branch at an old
// commit lists none).
func partialCommits(p ghPush, maxCommits int) bool {
	switch {
	case p.Deleted:
		return false
	case len(p.Commits) == 0:
		return true
	case p.TotalCommits != nil:
		return *p.TotalCommits > len(p.Commits)
	default:
		return len(p.Commits) >= maxCommits
	}
}

func reviewBase(pr *ghPR, repo *ghRepo) event.Review {
	r := event.Review{Number: pr.Number, Title: pr.Title, HeadRef: pr.Head.Ref, HeadSHA: pr.Head.SHA, BaseRef: pr.Base.Ref}
	if repo != nil {
		r.Repository = repo.FullName
	}
	for _, l := range pr.Labels {
		r.Labels = append(r.Labels, l.Name)
	}
	return r
}

func classifyPullRequest(body []byte) (Classification, error) {
	var e ghPullRequestEvent
	if err := decode("pull_request", body, &e); err != nil {
		return Classification{}, err
	}
	if e.PullRequest == nil || e.PullRequest.Number == 0 || e.Repository == nil {
		return Classification{}, fmt.Errorf("%w: pull_request needs pull_request.number and repository", ErrMalformed)
	}
	r := reviewBase(e.PullRequest, e.Repository)
	r.At = e.PullRequest.UpdatedAt
	switch e.Action {
	case "opened", "reopened":
		r.Action = event.ReviewOpened
	case "synchronize", "synchronized": // GitHub's word, Gitea's word
		r.Action = event.ReviewUpdated
	case "closed":
		// A merge is "closed" with merged true; anything else is a rejection.
		r.Action = event.ReviewClosed
		if e.PullRequest.ClosedAt != nil {
			r.At = *e.PullRequest.ClosedAt
		}
		if e.PullRequest.Merged {
			r.Action = event.ReviewMerged
			r.MergeCommit = e.PullRequest.MergeCommitSHA
			if e.PullRequest.MergedBy != nil {
				r.MergedBy = e.PullRequest.MergedBy.Login
			}
			if e.PullRequest.MergedAt != nil {
				r.At = *e.PullRequest.MergedAt
			}
		}
	default:
		return Classification{Ignore: fmt.Sprintf("pull_request action %q is not handled", e.Action)}, nil
	}
	return Classification{Kind: event.KindReview, Payload: r}, nil
}

func classifyReview(body []byte) (Classification, error) {
	var e ghReviewEvent
	if err := decode("pull_request_review", body, &e); err != nil {
		return Classification{}, err
	}
	if e.Review == nil || e.PullRequest == nil || e.PullRequest.Number == 0 || e.Repository == nil {
		return Classification{}, fmt.Errorf("%w: pull_request_review needs review, pull_request.number and repository", ErrMalformed)
	}
	if e.Action != "submitted" {
		return Classification{Ignore: fmt.Sprintf("pull_request_review action %q is not handled", e.Action)}, nil
	}
	r := reviewBase(e.PullRequest, e.Repository)
	// Webhooks say "approved", the REST API "APPROVED".
	switch strings.ToLower(e.Review.State) {
	case "approved":
		r.Action = event.ReviewApproved
	case "changes_requested":
		r.Action = event.ReviewChanges
	case "commented":
		r.Action = event.ReviewComment
	default:
		return Classification{Ignore: fmt.Sprintf("review state %q is not handled", e.Review.State)}, nil
	}
	r.Reviewer = e.Review.User.Login
	r.ReviewCommit = e.Review.CommitID
	r.At = e.Review.SubmittedAt
	return Classification{Kind: event.KindReview, Payload: r}, nil
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

type ghPackage struct {
	Name        string `json:"name"`
	PackageType string `json:"package_type"`
	Owner       ghUser `json:"owner"`
	Version     *struct {
		Version           string `json:"version"`
		PackageURL        string `json:"package_url"`
		ContainerMetadata *struct {
			Tag struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
		} `json:"container_metadata"`
	} `json:"package_version"`
}

type ghPackageEvent struct {
	Action          string     `json:"action"`
	Package         *ghPackage `json:"package"`
	RegistryPackage *ghPackage `json:"registry_package"`
}

// classifyPackage turns a GitHub Container Registry publish into an image
// event. A repository hook sends "package", a GitHub App "registry_package";
// a multi-arch push sends one event per manifest, each with its tag.
func classifyPackage(name string, body []byte) (Classification, error) {
	var e ghPackageEvent
	if err := decode(name, body, &e); err != nil {
		return Classification{}, err
	}
	pkg := e.Package
	if pkg == nil {
		pkg = e.RegistryPackage
	}
	if pkg == nil || pkg.Name == "" {
		return Classification{}, fmt.Errorf("%w: %s needs package.name", ErrMalformed, name)
	}
	if e.Action != "published" {
		return Classification{Ignore: fmt.Sprintf("%s action %q is not handled", name, e.Action)}, nil
	}
	if !strings.EqualFold(pkg.PackageType, "container") {
		return Classification{Ignore: fmt.Sprintf("package type %q is not a container image", pkg.PackageType)}, nil
	}
	if pkg.Version == nil {
		return Classification{}, fmt.Errorf("%w: %s needs package_version", ErrMalformed, name)
	}
	img := event.Image{Registry: "ghcr.io", Repository: strings.ToLower(pkg.Owner.Login + "/" + pkg.Name), Action: "push"}
	if m := pkg.Version.ContainerMetadata; m != nil {
		img.Tag, img.Digest = m.Tag.Name, m.Tag.Digest
	}
	if img.Digest == "" && strings.HasPrefix(pkg.Version.Version, "sha256:") {
		img.Digest = pkg.Version.Version
	}
	if pkg.Owner.Login == "" || !strings.HasPrefix(img.Digest, "sha256:") {
		return Classification{}, fmt.Errorf("%w: %s needs package.owner.login and a sha256 digest", ErrMalformed, name)
	}
	return Classification{Kind: event.KindImage, Payload: img}, nil
}
