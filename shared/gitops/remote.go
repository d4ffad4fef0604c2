package gitops

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

const remoteName = "origin"

// session is an empty in-memory repository with the remote configured: the
// network steps below fill it with shallow commits and push from it. There is
// no worktree.
type session struct {
	st  *filesystem.Storage
	rem *git.Remote
	// warm is a session on an ObjectCache that has fetched before.
	warm bool
	// cache is the ObjectCache the session is on, nil for a fresh one.
	cache *ObjectCache
}

func (r *Repo) newSession() (*session, error) {
	u, err := r.endpoint()
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", r.where(), err)
	}
	st := newStore()
	rem := git.NewRemote(st, &config.RemoteConfig{Name: remoteName, URLs: []string{u}})
	return &session{st: st, rem: rem}, nil
}

// branches lists the remote's branches and their tips, in one round trip.
func (r *Repo) branches(ctx context.Context, s *session) (map[string]plumbing.Hash, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	refs, err := s.rem.ListContext(ctx, &git.ListOptions{Auth: r.Auth})
	if err != nil {
		return nil, fmt.Errorf("listing branches of %s: %w", r.where(), classify(err))
	}
	out := make(map[string]plumbing.Hash, len(refs))
	for _, ref := range refs {
		if ref.Type() == plumbing.HashReference && ref.Name().IsBranch() {
			out[ref.Name().Short()] = ref.Hash()
		}
	}
	return out, nil
}

// fetch fetches the tips of branches with depth 1 and returns their commits
// in the same order. A warm session (an ObjectCache that fetched before)
// asks for no depth: the server then sends what the tips have that the
// cached tips lack, as a plain fetch does, where a depth-1 request made git
// send the whole tree again. The tips are read from what was fetched, not from an
// earlier listing, so a branch that moved in between is seen as it is now.
func (r *Repo) fetch(ctx context.Context, s *session, branches ...string) ([]*object.Commit, error) {
	specs := make([]config.RefSpec, len(branches))
	for i, b := range branches {
		specs[i] = config.RefSpec("+" + plumbing.NewBranchReferenceName(b).String() + ":" + trackingRef(b).String())
	}
	depth := 1
	if s.warm {
		depth = 0
	}
	if err := r.fetchSpecs(ctx, s, specs, depth); err != nil {
		return nil, fmt.Errorf("fetching %v from %s: %w", branches, r.where(), err)
	}
	commits, err := r.fetched(s, branches)
	if errors.Is(err, plumbing.ErrObjectNotFound) && depth == 0 {
		// A depth-0 fetch does not tell the server which cached commits
		// are shallow, so it assumes the cache holds their whole history
		// and sends nothing for a branch that points into it: a proposal
		// branch main has merged but nobody deleted yet, seen after the
		// cache fetched main at depth 1. A depth-1 fetch sends the
		// shallow commits along, and the server then sends that commit.
		if err := r.fetchSpecs(ctx, s, specs, 1); err != nil {
			return nil, fmt.Errorf("fetching %v from %s: %w", branches, r.where(), err)
		}
		commits, err = r.fetched(s, branches)
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) && s.cache != nil {
		// Whatever else leaves the cache without a commit its refs name
		// would fail every retry the same way: start it afresh, as a
		// cold process would.
		r.logger().WarnContext(ctx, "object cache lacks a fetched commit: starting it afresh",
			"repository", r.where(), "branches", branches, "error", err.Error())
		s.cache.restart(s)
		if err := r.fetchSpecs(ctx, s, specs, 1); err != nil {
			return nil, fmt.Errorf("fetching %v from %s: %w", branches, r.where(), err)
		}
		commits, err = r.fetched(s, branches)
	}
	return commits, err
}

// fetchSpecs runs one fetch of specs into s at depth (0: no limit).
func (r *Repo) fetchSpecs(ctx context.Context, s *session, specs []config.RefSpec, depth int) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	err := s.rem.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   specs,
		Depth:      depth,
		Tags:       git.NoTags,
		Auth:       r.Auth,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return classify(err)
	}
	return nil
}

// fetched returns the commits of branches as the last fetch left them.
func (r *Repo) fetched(s *session, branches []string) ([]*object.Commit, error) {
	commits := make([]*object.Commit, len(branches))
	for i, b := range branches {
		ref, err := s.st.Reference(trackingRef(b))
		if err != nil {
			return nil, fmt.Errorf("resolving fetched branch %s of %s: %w", b, r.where(), err)
		}
		if commits[i], err = object.GetCommit(s.st, ref.Hash()); err != nil {
			return nil, fmt.Errorf("reading commit %s of %s: %w", ref.Hash(), r.where(), err)
		}
	}
	return commits, nil
}

func trackingRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, branch)
}

// push updates branch on the remote to commit (a zero commit deletes it).
// With force, the update is unconditional. Otherwise expect is a lease: the
// push fails unless the branch is still at expect, which git's receive-pack
// then re-checks atomically. Because commit's first parent is expect, that is
// a fast-forward, and go-git need not walk the shallow history to prove it.
func (r *Repo) push(ctx context.Context, s *session, branch string, commit plumbing.Hash, force bool, expect plumbing.Hash) error {
	if !commit.IsZero() && !force {
		if dir := r.checkedOut(ctx, branch); dir != "" {
			return r.pushCheckedOut(ctx, s, dir, branch, commit, expect)
		}
	}
	dst := plumbing.NewBranchReferenceName(branch).String()
	var spec config.RefSpec
	switch {
	case commit.IsZero():
		spec = config.RefSpec(":" + dst)
	case force:
		spec = config.RefSpec("+" + commit.String() + ":" + dst)
	default:
		spec = config.RefSpec(commit.String() + ":" + dst)
	}
	var lease []config.RefSpec
	if !force && !expect.IsZero() {
		lease = []config.RefSpec{config.RefSpec(expect.String() + ":" + dst)}
	}
	return r.pushSpec(ctx, s, spec, lease)
}

// pushSpec pushes one refspec, with lease as go-git's RequireRemoteRefs.
func (r *Repo) pushSpec(ctx context.Context, s *session, spec config.RefSpec, lease []config.RefSpec) error {
	opts := &git.PushOptions{RemoteName: remoteName, RefSpecs: []config.RefSpec{spec}, Auth: r.Auth, RequireRemoteRefs: lease}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	if err := s.rem.PushContext(ctx, opts); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("pushing %s to %s: %w", spec, r.where(), classify(err))
	}
	return nil
}
