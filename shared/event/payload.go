package event

import "time"

// Push is the payload of a KindPush envelope: a commit pushed to a branch or tag.
type Push struct {
	// Repository is "owner/name" as the forge names it.
	Repository string `json:"repository"`
	// CloneURL is where the commit can be fetched (https or file).
	CloneURL string `json:"clone_url"`
	// HTMLURL is the repository's web address, for links in PR bodies.
	HTMLURL string `json:"html_url,omitempty"`
	Ref     string `json:"ref"`
	// Branch is set for refs/heads/…, Tag for refs/tags/….
	Branch  string `json:"branch,omitempty"`
	Tag     string `json:"tag,omitempty"`
	Before  string `json:"before,omitempty"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted,omitempty"`
	Forced  bool   `json:"forced,omitempty"`
	// Commit is the head commit; nil when the ref was deleted.
	Commit *Commit `json:"commit,omitempty"`
	// ChangedFiles is the union of added, modified and removed paths over
	// the pushed commits, capped at MaxChangedFiles. Truncated is set when
	// the cap was hit or the forge omitted the list, so a path filter must
	// treat the push as touching everything.
	ChangedFiles []string `json:"changed_files,omitempty"`
	Truncated    bool     `json:"truncated,omitempty"`
	Pusher       string   `json:"pusher,omitempty"`
}

// MaxChangedFiles bounds the changed-file list kept in a push payload.
const MaxChangedFiles = 1000

// Commit describes one source commit.
type Commit struct {
	ID        string    `json:"id"`
	Message   string    `json:"message,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	Author    string    `json:"author,omitempty"`
	URL       string    `json:"url,omitempty"`
}

// Image is the payload of a KindImage envelope: a manifest or index pushed
// to a registry.
type Image struct {
	// Registry is the registry host (with port), e.g. "ghcr.io".
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Tag        string `json:"tag,omitempty"`
	MediaType  string `json:"media_type,omitempty"`
	// Action is "push" for every image event Conveyor queues today.
	Action string `json:"action"`
}

// Ref returns registry/repository@digest.
func (i Image) Ref() string {
	if i.Registry == "" {
		return i.Repository + "@" + i.Digest
	}
	return i.Registry + "/" + i.Repository + "@" + i.Digest
}

// Promotion is the payload of a KindPromotion envelope: put one digest into
// one environment of one app.
type Promotion struct {
	App         string `json:"app"`
	Environment string `json:"environment"`
	// Image is the repository without tag or digest.
	Image  string `json:"image"`
	Digest string `json:"digest"`
	Tag    string `json:"tag,omitempty"`
	// Source, Revision and Created are the image's provenance
	// (org.opencontainers.image.* annotations).
	Source   string    `json:"source,omitempty"`
	Revision string    `json:"revision,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	// From is the environment that released this digest before, empty for
	// the first environment.
	From string `json:"from,omitempty"`
	// Rollback marks a promotion that restores an earlier digest.
	Rollback bool `json:"rollback,omitempty"`
	// Force is an operator's override of the ordering check (`conveyor
	// promote --force`): the digest is proposed even when source history
	// says it is older than what runs. Reason and By are recorded with the
	// release; an override without a reason is refused.
	Force  bool   `json:"force,omitempty"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// GroupID is the FIFO group of a promotion: one app/environment at a time.
func (p Promotion) GroupID() string { return p.App + "/" + p.Environment }

// DedupeID identifies a promotion for deduplication: the same digest into the
// same environment is the same promotion however often it is sent.
func (p Promotion) DedupeID() string { return p.App + "/" + p.Environment + "/" + p.Digest }

// Review actions carried in a Review payload.
const (
	ReviewOpened   = "opened"
	ReviewUpdated  = "synchronize"
	ReviewMerged   = "merged"
	ReviewClosed   = "closed" // closed without merging
	ReviewApproved = "approved"
	ReviewChanges  = "changes_requested"
	ReviewComment  = "commented"
)

// Review is the payload of a KindReview envelope: a pull request changed
// state or received a review.
type Review struct {
	Action     string   `json:"action"`
	Repository string   `json:"repository"`
	Number     int      `json:"number"`
	Title      string   `json:"title,omitempty"`
	HeadRef    string   `json:"head_ref"`
	HeadSHA    string   `json:"head_sha,omitempty"`
	BaseRef    string   `json:"base_ref,omitempty"`
	Labels     []string `json:"labels,omitempty"`
	// MergeCommit and MergedBy are set when Action is ReviewMerged.
	MergeCommit string `json:"merge_commit,omitempty"`
	MergedBy    string `json:"merged_by,omitempty"`
	// Reviewer, ReviewCommit and ReviewState are set for reviews. An
	// approval only counts for the head it was given on.
	Reviewer     string    `json:"reviewer,omitempty"`
	ReviewCommit string    `json:"review_commit,omitempty"`
	At           time.Time `json:"at,omitzero"`
}
