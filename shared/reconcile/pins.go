package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// History reads the GitOps repository's base branch (a *gitops.Repo).
type History interface {
	// History returns the newest depth commits of the base branch along
	// first parents, newest first.
	History(ctx context.Context, depth int) ([]*gitops.Snapshot, error)
}

// Pin is what the base branch pins for one app's environment, and the
// commit that made it so.
type Pin struct {
	App string `json:"app"`
	Env string `json:"env"`
	// Digest is "" when the manifests name the image without a digest.
	Digest string `json:"digest,omitempty"`
	// Commit is the newest commit that set Digest (the oldest commit read
	// when the history read was too short to find it), with its author,
	// time and subject.
	Commit  string    `json:"commit"`
	Author  string    `json:"author,omitempty"`
	At      time.Time `json:"at"`
	Subject string    `json:"subject,omitempty"`
	// Err says why the pin could not be read (a path that no longer
	// exists, a manifest that names no image).
	Err string `json:"error,omitempty"`
}

// LineagePins is pins as lineage.WithPins takes them, so that the status
// command and the board mark drift alike.
func LineagePins(pins []Pin) []lineage.Pin {
	out := make([]lineage.Pin, len(pins))
	for i, p := range pins {
		out[i] = lineage.Pin{App: p.App, Env: p.Env, Digest: p.Digest, Err: p.Err}
	}
	return out
}

// Pins reads what the base branch pins for every environment of every app
// in cfg, looking back at most depth commits for the commit that set each.
func Pins(ctx context.Context, repo History, cfg *config.Config, depth int) ([]Pin, error) {
	snaps, err := repo.History(ctx, depth)
	if err != nil {
		return nil, fmt.Errorf("reading the GitOps base branch: %w", err)
	}
	var pins []Pin
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		for j := range a.Environments {
			pins = append(pins, pinOf(snaps, a, &a.Environments[j]))
		}
	}
	return pins, nil
}

// pinOf reads the tip's pin, then walks back while older commits pin the
// same digest: the last of them introduced it.
func pinOf(snaps []*gitops.Snapshot, a *config.App, e *config.Environment) Pin {
	p := Pin{App: a.Name, Env: e.Name}
	digest, err := promote.Pinned(snaps[0], a, e)
	if err != nil {
		p.Err = err.Error()
		p.setCommit(snaps[0])
		return p
	}
	p.Digest = digest
	set := snaps[0]
	for _, s := range snaps[1:] {
		if d, err := promote.Pinned(s, a, e); err != nil || d != digest {
			break
		}
		set = s
	}
	p.setCommit(set)
	return p
}

func (p *Pin) setCommit(s *gitops.Snapshot) {
	p.Commit, p.Author, p.At, p.Subject = s.Commit(), s.Author(), s.Committed().UTC(), s.Subject()
}

// RepoHistory reads the base branch conveyor.yaml currently names of the
// GitOps repository at url (a *gitops.Repo opened per read, with fresh
// credentials from auth, nil for none).
type RepoHistory struct {
	URL    string
	Config config.Loader
	Auth   func(ctx context.Context, repoURL string) (transport.AuthMethod, error)
}

// History implements History.
func (h *RepoHistory) History(ctx context.Context, depth int) ([]*gitops.Snapshot, error) {
	c, err := h.Config.Load(ctx)
	if err != nil {
		return nil, err
	}
	var auth transport.AuthMethod
	if h.Auth != nil {
		if auth, err = h.Auth(ctx, h.URL); err != nil {
			return nil, fmt.Errorf("reading the GitOps history: %w", err)
		}
	}
	repo, err := gitops.New(h.URL, c.GitOps.Branch, auth, object.Signature{Name: c.GitOps.Author.Name, Email: c.GitOps.Author.Email})
	if err != nil {
		return nil, err
	}
	return repo.History(ctx, depth)
}
