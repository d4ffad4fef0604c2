package lineage

import (
	"sort"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Cell is one app × environment of the status table.
type Cell struct {
	App          string    `json:"app"`
	Env          string    `json:"env"`
	Digest       string    `json:"digest,omitempty"`
	Tag          string    `json:"tag,omitempty"`
	SourceRepo   string    `json:"source_repo,omitempty"`
	SourceCommit string    `json:"source_commit,omitempty"`
	ReleasedAt   time.Time `json:"released_at,omitzero"`
	MergedBy     string    `json:"merged_by,omitempty"`
	// ApprovedBy approved the released head; Override is the reason it
	// merged past the release policy, if it did.
	ApprovedBy []string `json:"approved_by,omitempty"`
	Override   string   `json:"override,omitempty"`
	// Proposed is the open promotion, if any.
	ProposedDigest string `json:"proposed_digest,omitempty"`
	// ProposedApprovedBy have approved the open promotion's head so far.
	ProposedApprovedBy []string  `json:"proposed_approved_by,omitempty"`
	PR                 int       `json:"pr,omitempty"`
	PRURL              string    `json:"pr_url,omitempty"`
	PRState            string    `json:"pr_state,omitempty"`
	Frozen             bool      `json:"frozen"`
	FrozenUntil        time.Time `json:"frozen_until,omitzero"`
	Release            string    `json:"release"`
	// Drift is set when the records disagree with what the GitOps
	// repository pins (see WithPins): Digest is then git's, Recorded the
	// records', and DriftReason says what to do.
	Drift       bool   `json:"drift,omitempty"`
	Recorded    string `json:"recorded_digest,omitempty"`
	DriftReason string `json:"drift_reason,omitempty"`
}

// Status builds the app × environment table in pipeline order.
func Status(cfg *config.Config, rels []state.Release, now time.Time) []Cell {
	// Grouped once: 10,000 apps × 3 environments must not each walk
	// every record.
	byCell := map[[2]string][]state.Release{}
	for _, r := range rels {
		k := [2]string{r.App, r.Env}
		byCell[k] = append(byCell[k], r)
	}
	var out []Cell
	for _, a := range cfg.Apps {
		for i := range a.Environments {
			e := &a.Environments[i]
			c := Cell{App: a.Name, Env: e.Name, Release: string(e.Release)}
			c.Frozen, c.FrozenUntil = e.Frozen(now)
			for _, r := range byCell[[2]string{a.Name, e.Name}] {
				switch r.State {
				case state.Merged:
					if r.MergedAt.After(c.ReleasedAt) || c.Digest == "" {
						c.Digest, c.SourceCommit, c.ReleasedAt, c.MergedBy = r.Digest, r.SourceCommit, r.MergedAt, r.MergedBy
						c.ApprovedBy, c.Override = r.ApprovedBy, r.Override
						c.Tag, c.SourceRepo = r.Tag, r.SourceRepo
					}
				case state.Proposed:
					c.ProposedDigest, c.PR, c.PRURL, c.PRState = r.Digest, r.PR, r.PRURL, "open"
					c.ProposedApprovedBy = r.ApprovedBy
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// Step is one environment of a commit's journey.
type Step struct {
	Env      string    `json:"env"`
	State    string    `json:"state"`
	PR       int       `json:"pr,omitempty"`
	PRURL    string    `json:"pr_url,omitempty"`
	Proposed time.Time `json:"proposed_at"`
	Merged   time.Time `json:"merged_at,omitzero"`
	MergedBy string    `json:"merged_by,omitempty"`
	// ApprovedBy approved the merged head; Override is the reason it
	// merged past the release policy, if it did.
	ApprovedBy []string `json:"approved_by,omitempty"`
	Override   string   `json:"override,omitempty"`
	// HeadSHA is the promotion branch's head that proposed the digest.
	HeadSHA   string `json:"head_sha,omitempty"`
	Rollback  bool   `json:"rollback,omitempty"`
	LeadTime  string `json:"lead_time,omitempty"`
	TraceID   string `json:"trace_id,omitempty"`
	ReleaseID string `json:"release_id"`
}

// Journey is one image's way through the environments.
type Journey struct {
	Digest       string    `json:"digest"`
	Tag          string    `json:"tag,omitempty"`
	SourceRepo   string    `json:"source_repo,omitempty"`
	SourceCommit string    `json:"source_commit,omitempty"`
	CommitTime   time.Time `json:"commit_time,omitzero"`
	Steps        []Step    `json:"steps"`
}

// History returns an app's journeys, newest commit first, each with its
// steps in the app's environment order.
func History(a *config.App, rels []state.Release) []Journey {
	order := map[string]int{}
	for i, e := range a.Environments {
		order[e.Name] = i
	}
	byDigest := map[string]*Journey{}
	var keys []string
	for _, r := range rels {
		if r.App != a.Name {
			continue
		}
		j, ok := byDigest[r.Digest]
		if !ok {
			j = &Journey{Digest: r.Digest, Tag: r.Tag, SourceRepo: r.SourceRepo, SourceCommit: r.SourceCommit, CommitTime: r.SourceTime}
			byDigest[r.Digest] = j
			keys = append(keys, r.Digest)
		}
		s := Step{Env: r.Env, State: string(r.State), PR: r.PR, PRURL: r.PRURL, Proposed: r.CreatedAt, Merged: r.MergedAt, MergedBy: r.MergedBy,
			ApprovedBy: r.ApprovedBy, Override: r.Override, HeadSHA: r.HeadSHA, Rollback: r.Rollback, TraceID: r.TraceID, ReleaseID: r.ID}
		if r.State == state.Merged && !r.SourceTime.IsZero() && !r.MergedAt.IsZero() {
			s.LeadTime = r.MergedAt.Sub(r.SourceTime).Round(time.Second).String()
		}
		j.Steps = append(j.Steps, s)
	}
	out := make([]Journey, 0, len(keys))
	for _, k := range keys {
		j := byDigest[k]
		sort.SliceStable(j.Steps, func(x, y int) bool { return order[j.Steps[x].Env] < order[j.Steps[y].Env] })
		out = append(out, *j)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CommitTime.After(out[j].CommitTime) })
	return out
}
