package onboard

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Commit is the GitOps commit whose files are imported; zero when the
// directory is not a git repository yet.
type Commit struct {
	Hash    string
	Author  string
	Subject string
	At      time.Time
}

// Imported is what Import found for one environment.
type Imported struct {
	App, Env string
	Digest   string // "" when the manifests pin a tag only, or could not be read
	Recorded bool   // a starting release was written now
	Why      string // why nothing was recorded, when nothing was
}

// Import records what each environment of cfg pins in fsys as its
// starting release: a merged release of that digest, the record `status`,
// a promotion's "From" and `rollback` read. It reads pins with the editor
// promotions write with (promote.Pinned) and writes the records
// reconciliation writes for an edit made outside Conveyor
// (reconcile.Compare, reconcile.Apply), so running it again, or
// reconciling afterwards, records nothing twice. An environment whose
// records already say what it pins is left alone.
func Import(ctx context.Context, fsys fs.FS, cfg *config.Config, head Commit, releases state.Releases) ([]Imported, error) {
	if head.At.IsZero() {
		head.At = time.Now().UTC()
	}
	var pins []reconcile.Pin
	var rels []state.Release
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		r, err := releases.ListReleases(ctx, state.ReleaseFilter{App: a.Name})
		if err != nil {
			return nil, fmt.Errorf("listing the releases of %s: %w", a.Name, err)
		}
		rels = append(rels, r...)
		for j := range a.Environments {
			e := &a.Environments[j]
			p := reconcile.Pin{App: a.Name, Env: e.Name, Commit: head.Hash, Author: head.Author, At: head.At, Subject: head.Subject}
			d, err := promote.Pinned(fsys, a, e)
			if err != nil {
				p.Err = err.Error()
			}
			p.Digest = d
			pins = append(pins, p)
		}
	}
	drifts := reconcile.Compare(cfg, pins, rels)
	byEnv := map[string]reconcile.Drift{}
	for i := range drifts {
		d := &drifts[i]
		if d.Release != nil {
			d.Release.Note = fmt.Sprintf("imported by conveyor init: %s pins it at %s", d.Env, describeCommit(head))
			if head.Hash == "" {
				d.Release.ID = fmt.Sprintf("%s/%s/%s#init", d.App, d.Env, d.Digest)
			}
		}
		byEnv[d.App+"/"+d.Env] = *d
	}
	if _, err := reconcile.Apply(ctx, releases, drifts); err != nil {
		return nil, err
	}
	out := make([]Imported, 0, len(pins))
	for _, p := range pins {
		im := Imported{App: p.App, Env: p.Env, Digest: p.Digest}
		d, drift := byEnv[p.App+"/"+p.Env]
		switch {
		case p.Err != "":
			im.Why = p.Err
		case p.Digest == "":
			im.Why = "the manifests name a tag, not a digest: the first promotion records it"
		case !drift:
			im.Why = "already recorded"
		case d.Release != nil:
			im.Recorded = true
		}
		out = append(out, im)
	}
	return out, nil
}

func describeCommit(c Commit) string {
	if c.Hash == "" {
		return "an uncommitted tree"
	}
	return fmt.Sprintf("%.12s", c.Hash)
}
