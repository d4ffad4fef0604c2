package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Repair kinds.
const (
	// MergeRecorded: an open proposal's digest is pinned, so its pull
	// request merged without Conveyor hearing of it.
	MergeRecorded = "merge-recorded"
	// Reverted: the base branch went back to a digest the environment ran
	// before (a git revert, say): a rollback made outside Conveyor.
	Reverted = "reverted"
	// OutOfBand: the base branch pins a digest Conveyor never released
	// there: an edit made outside Conveyor.
	OutOfBand = "out-of-band"
)

// Drift is one environment whose records disagree with git, and what was
// (or, in a dry run, would be) recorded to mend it.
type Drift struct {
	Pin
	// Recorded is the digest the records said runs there ("" for none).
	Recorded string `json:"recorded,omitempty"`
	// Repair is one of the repair kinds, "" when the pin cannot be
	// recorded (the manifests pin no digest, or could not be read).
	Repair string `json:"repair,omitempty"`
	// Release is the record written.
	Release *state.Release `json:"release,omitempty"`
}

// Compare lists the environments whose records disagree with pins, with
// the record that would mend each. rels are every release of the apps in
// pins.
func Compare(cfg *config.Config, pins []Pin, rels []state.Release) []Drift {
	var out []Drift
	for _, p := range pins {
		deployed, proposal, ranBefore, known := classify(rels, p)
		recorded := ""
		if deployed != nil {
			recorded = deployed.Digest
		}
		if p.Err == "" && p.Digest == recorded {
			continue
		}
		d := Drift{Pin: p, Recorded: recorded}
		if p.Err != "" || p.Digest == "" {
			out = append(out, d)
			continue
		}
		at := p.At
		if deployed != nil && !at.After(deployed.MergedAt) {
			// Git's order is the truth: the pin came after whatever was
			// recorded, whatever the commit's clock said.
			at = deployed.MergedAt.Add(time.Millisecond)
		}
		switch {
		case proposal != nil:
			r := *proposal
			r.State, r.MergeCommit, r.MergedBy, r.MergedAt = state.Merged, p.Commit, p.Author, at
			r.Note = fmt.Sprintf("merge recorded by reconciliation: %s pins it since %.12s", p.Env, p.Commit)
			d.Repair, d.Release = MergeRecorded, &r
		default:
			r := state.Release{ID: fmt.Sprintf("%s/%s/%s#git-%.12s", p.App, p.Env, p.Digest, p.Commit), App: p.App, Env: p.Env,
				Digest: p.Digest, State: state.Merged, MergeCommit: p.Commit, MergedBy: p.Author, MergedAt: at, CreatedAt: at}
			if a, ok := cfg.App(p.App); ok {
				r.Image = a.Image
			}
			if known != nil {
				r.Tag, r.SourceRepo, r.SourceCommit, r.SourceTime = known.Tag, known.SourceRepo, known.SourceCommit, known.SourceTime
			}
			d.Repair = OutOfBand
			r.Note = fmt.Sprintf("changed outside Conveyor in %.12s: %s", p.Commit, p.Subject)
			if ranBefore {
				d.Repair, r.Rollback = Reverted, true
				r.Note = fmt.Sprintf("reverted outside Conveyor in %.12s: %s", p.Commit, p.Subject)
			}
			d.Release = &r
		}
		out = append(out, d)
	}
	return out
}

// classify finds, for p's environment, the release the records say runs
// there, an open proposal of p's digest, whether p's digest ran there
// before, and any record of p's digest (for its provenance).
func classify(rels []state.Release, p Pin) (deployed, proposal *state.Release, ranBefore bool, known *state.Release) {
	for i := range rels {
		r := &rels[i]
		if r.App != p.App {
			continue
		}
		if r.Digest == p.Digest && p.Digest != "" && (known == nil || r.SourceCommit != "") {
			known = r
		}
		if r.Env != p.Env {
			continue
		}
		switch r.State {
		case state.Merged:
			if deployed == nil || !r.MergedAt.Before(deployed.MergedAt) {
				deployed = r
			}
			if r.Digest == p.Digest {
				ranBefore = true
			}
		case state.Proposed:
			if r.Digest == p.Digest {
				proposal = r
			}
		}
	}
	return deployed, proposal, ranBefore, known
}

// Apply writes the drifts' records. A record already written (by an
// earlier run, or a merge event that arrived meanwhile) is left alone, so
// Apply is idempotent.
func Apply(ctx context.Context, releases state.Releases, drifts []Drift) (int, error) {
	n := 0
	for _, d := range drifts {
		if d.Release == nil {
			continue
		}
		r := *d.Release
		if r.Version == 0 {
			if _, err := releases.GetRelease(ctx, r.ID); err == nil {
				continue
			} else if !errors.Is(err, state.ErrNotFound) {
				return n, err
			}
		}
		err := releases.PutRelease(ctx, &r)
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("recording %s/%s at %s: %w", d.App, d.Env, d.Digest, err)
		}
		n++
	}
	return n, nil
}
