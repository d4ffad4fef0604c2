package webhook

import (
	"fmt"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/event"
)

// giteaReviewEvent is a review as Gitea and Forgejo send it: a pull_request
// payload with action "reviewed", the reviewer as sender and the review's
// kind in review.type; it carries no reviewed commit.
type giteaReviewEvent struct {
	Action      string  `json:"action"`
	PullRequest *ghPR   `json:"pull_request"`
	Repository  *ghRepo `json:"repository"`
	Sender      ghUser  `json:"sender"`
	Review      *struct {
		Type string `json:"type"`
	} `json:"review"`
}

// classifyGiteaReview turns a Gitea approval or rejection into a review
// event. name is X-Gitea-Event ("pull_request_approved") or
// X-Gitea-Event-Type ("pull_request_review_approved"). Like every review
// event it is a hint: the approval function reads the reviews back from
// the forge, so the missing commit id costs nothing.
func classifyGiteaReview(name string, body []byte) (Classification, error) {
	var e giteaReviewEvent
	if err := decode(name, body, &e); err != nil {
		return Classification{}, err
	}
	if e.PullRequest == nil || e.PullRequest.Number == 0 || e.Repository == nil {
		return Classification{}, fmt.Errorf("%w: %s needs pull_request.number and repository", ErrMalformed, name)
	}
	if e.Action != "reviewed" {
		return Classification{Ignore: fmt.Sprintf("%s action %q is not handled", name, e.Action)}, nil
	}
	r := reviewBase(e.PullRequest, e.Repository)
	r.Action = event.ReviewApproved
	if strings.HasSuffix(name, "_rejected") {
		r.Action = event.ReviewChanges
	}
	r.Reviewer = first(e.Sender.Login, e.Sender.Username)
	r.At = e.PullRequest.UpdatedAt
	return Classification{Kind: event.KindReview, Payload: r}, nil
}
