package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Tip returns a snapshot of the base branch's tip: what the environments
// run, as the GitOps repository says it.
func (r *Repo) Tip(ctx context.Context) (*Snapshot, error) {
	snaps, err := r.History(ctx, 1)
	if err != nil {
		return nil, err
	}
	return snaps[0], nil
}

// History returns snapshots of the base branch's newest depth commits along
// first parents, newest first. It fetches only that much history, so it
// costs the same in an old repository as in a new one.
func (r *Repo) History(ctx context.Context, depth int) ([]*Snapshot, error) {
	if depth < 1 {
		depth = 1
	}
	s, err := r.newSession()
	if err != nil {
		return nil, err
	}
	spec := config.RefSpec("+refs/heads/" + r.Base + ":" + trackingRef(r.Base).String())
	fctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	err = s.rem.FetchContext(fctx, &git.FetchOptions{RemoteName: remoteName, RefSpecs: []config.RefSpec{spec},
		Depth: depth, Tags: git.NoTags, Auth: r.Auth})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if errors.Is(err, git.NoMatchingRefSpecError{}) {
			return nil, r.missing(r.Base)
		}
		return nil, fmt.Errorf("fetching the history of %s from %s: %w", r.Base, r.where(), classify(err))
	}
	ref, err := s.st.Reference(trackingRef(r.Base))
	if err != nil {
		return nil, r.missing(r.Base)
	}
	var out []*Snapshot
	c, err := object.GetCommit(s.st, ref.Hash())
	for err == nil && len(out) < depth {
		snap, serr := newSnapshot(s.st, c)
		if serr != nil {
			return nil, fmt.Errorf("reading commit %s of %s: %w", c.Hash, r.where(), serr)
		}
		out = append(out, snap)
		if c.NumParents() == 0 {
			break
		}
		// A shallow fetch ends at a parent that was not fetched: that is
		// where the history asked for stops.
		c, err = c.Parent(0)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("reading the tip of %s of %s: %w", r.Base, r.where(), err)
	}
	return out, nil
}

// Author returns the name of the snapshot commit's author.
func (s *Snapshot) Author() string { return s.commit.Author.Name }

// Committed returns when the snapshot's commit was committed.
func (s *Snapshot) Committed() time.Time { return s.commit.Committer.When }

// Authored returns when the snapshot's commit was authored.
func (s *Snapshot) Authored() time.Time { return s.commit.Author.When }

// Subject returns the first line of the snapshot commit's message.
func (s *Snapshot) Subject() string {
	subject, _, _ := strings.Cut(s.commit.Message, "\n")
	return subject
}
