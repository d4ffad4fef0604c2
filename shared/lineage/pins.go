package lineage

import (
	"fmt"
	"time"
)

// Pin is what the GitOps repository's base branch pins for one app's
// environment ("" when it pins no digest).
type Pin struct {
	App, Env, Digest string
	// Err says why the pin could not be read.
	Err string
}

// WithPins makes each cell say what git pins: Digest becomes the pinned
// digest, and a cell whose records said otherwise keeps the records' view
// in Recorded and is marked Drift. Git is the truth; the records are
// shown beside it, never instead of it.
func WithPins(cells []Cell, pins []Pin) []Cell {
	byEnv := map[[2]string]Pin{}
	for _, p := range pins {
		byEnv[[2]string{p.App, p.Env}] = p
	}
	for i := range cells {
		c := &cells[i]
		p, ok := byEnv[[2]string{c.App, c.Env}]
		if !ok {
			continue
		}
		if p.Err != "" {
			c.Drift, c.DriftReason = true, p.Err
			continue
		}
		if p.Digest == c.Digest {
			continue
		}
		c.Drift, c.Recorded, c.Digest = true, c.Digest, p.Digest
		c.DriftReason = driftReason(c)
		// The source commit, release time and merger belong to the
		// recorded digest, not to what git pins.
		c.SourceCommit, c.ReleasedAt, c.MergedBy, c.ApprovedBy, c.Override = "", time.Time{}, "", nil, ""
		c.Tag, c.SourceRepo = "", ""
	}
	return cells
}

// driftReason says what to do about c's drift. Git pinning what the open
// promotion proposes is what a merge looks like until its record is
// written, a moment later: that is said apart, so that a page read in that
// moment does not send anyone to repair what is not broken.
func driftReason(c *Cell) string {
	if c.PR > 0 && c.Digest != "" && c.Digest == c.ProposedDigest {
		return fmt.Sprintf("git pins %s, which PR #%d proposes: its merge is not recorded yet; if that lasts, run `conveyor reconcile`", c.Digest, c.PR)
	}
	return "the records say " + orNone(c.Recorded) + " but git pins " + orNone(c.Digest) + ": run `conveyor reconcile`"
}

func orNone(d string) string {
	if d == "" {
		return "no digest"
	}
	return d
}
