package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Propose applies edit to the tip of the base branch and force-pushes the
// result to branch as exactly one commit on top of that tip, written with
// message and the author at when. Conveyor owns branch: a newer proposal
// replaces whatever it held.
//
// When branch already holds a commit with the same tree whose only parent is
// the current base tip, nothing is pushed and that commit is returned with
// Changed false, so a replayed promotion is a no-op. When the edit changes
// nothing on the base, the error is ErrNoChanges.
func (r *Repo) Propose(ctx context.Context, branch string, edit Edit, message string, when time.Time) (*Commit, error) {
	if err := r.checkBranch(branch); err != nil {
		return nil, err
	}
	p, err := r.prepare(ctx, branch, edit, message, when)
	if err != nil || !p.res.Changed {
		return p.res, err
	}
	if err := r.send(ctx, p.added, branch, p.old, p.commit); err != nil {
		return nil, err
	}
	return p.res, nil
}

// proposal is a commit Propose built and has yet to push.
type proposal struct {
	res *Commit
	// added holds the objects the commit adds to the base; old is the
	// branch's tip when listed (zero when absent).
	added       *overlay
	old, commit plumbing.Hash
}

// prepare fetches what Propose builds on, applies edit and writes the
// commit. With an object cache, it holds the cache until the commit is
// written, and the push that follows needs it no more.
func (r *Repo) prepare(ctx context.Context, branch string, edit Edit, message string, when time.Time) (*proposal, error) {
	s, done, err := r.openSession()
	if err != nil {
		return &proposal{}, err
	}
	defer done()
	refs, err := r.branches(ctx, s)
	if err != nil {
		return &proposal{}, err
	}
	if _, ok := refs[r.Base]; !ok {
		return &proposal{}, r.missing(r.Base)
	}
	want := []string{r.Base}
	if _, ok := refs[branch]; ok {
		want = append(want, branch)
	}
	commits, err := r.fetch(ctx, s, want...)
	if err != nil {
		return &proposal{}, err
	}
	tip := commits[0]
	added := newOverlay(s.st)
	tree, files, err := r.applyEdit(added, tip, edit)
	if err != nil {
		return &proposal{}, err
	}
	p := &proposal{res: &Commit{Base: tip.Hash.String(), Files: files, Attempts: 1}, added: added, old: refs[branch]}
	if len(commits) == 2 {
		head := commits[1]
		if head.TreeHash == tree && slices.Equal(head.ParentHashes, []plumbing.Hash{tip.Hash}) {
			p.res.SHA = head.Hash.String()
			return p, nil
		}
	}
	if p.commit, err = writeCommit(added, tree, []plumbing.Hash{tip.Hash}, r.signature(when), message); err != nil {
		return &proposal{}, fmt.Errorf("committing to %s: %w", branch, err)
	}
	p.res.SHA, p.res.Changed = p.commit.String(), true
	return p, nil
}

// openSession returns a session on the object cache, locked until done is
// called, or a fresh one.
func (r *Repo) openSession() (*session, func(), error) {
	if r.opts.objects == nil {
		s, err := r.newSession()
		return s, func() {}, err
	}
	u, err := r.endpoint()
	if err != nil {
		return nil, nil, fmt.Errorf("resolving %s: %w", r.where(), err)
	}
	s, done := r.opts.objects.session(u)
	return s, done, nil
}

// Land applies edit on top of the base branch's tip and pushes the base
// branch as a fast-forward. When another writer moved the base in between,
// it fetches the new tip, re-applies edit there and pushes again, up to the
// WithAttempts limit; after that the error wraps ErrRaceLost (transient). An
// edit that changes nothing returns ErrNoChanges.
func (r *Repo) Land(ctx context.Context, edit Edit, message string, when time.Time) (*Commit, error) {
	return r.land(ctx, "", edit, message, when)
}

// LandMerge merges branch into the base branch the way the local forge does:
// it creates a merge commit whose parents are the base tip and the branch tip
// and whose tree is the base tip's tree with edit applied (the edit
// re-applies the promotion, so no textual merge is needed), then pushes it as
// Land does, with the same retries. If branch's tip already is the base tip
// or one of its parents, the branch is merged: nothing is pushed and Changed
// is false.
func (r *Repo) LandMerge(ctx context.Context, branch string, edit Edit, message string, when time.Time) (*Commit, error) {
	if err := r.checkBranch(branch); err != nil {
		return nil, err
	}
	return r.land(ctx, branch, edit, message, when)
}

func (r *Repo) land(ctx context.Context, branch string, edit Edit, message string, when time.Time) (*Commit, error) {
	n := r.attempts()
	for attempt := 1; attempt <= n; attempt++ {
		res, moved, err := r.landOnce(ctx, branch, edit, message, when, attempt)
		if !moved {
			if res != nil {
				res.Attempts = attempt
			}
			return res, err
		}
		r.logger().InfoContext(ctx, "base branch moved during push, retrying",
			"branch", r.Base, "attempt", attempt, "max_attempts", n, "error", err)
	}
	return nil, fmt.Errorf("landing on %s of %s after %d attempts: %w", r.Base, r.where(), n, ErrRaceLost)
}

// landOnce is one fetch-edit-push round. moved reports that the push failed
// because another writer moved the base branch, so a new round may succeed.
func (r *Repo) landOnce(ctx context.Context, branch string, edit Edit, message string, when time.Time, attempt int) (res *Commit, moved bool, err error) {
	// A base checked out in a clone on this machine is pushed to through
	// git, which reads the objects from the session's store; anywhere else
	// the commit is written aside and sent alone, so a warm object cache
	// makes a merge fetch and send only what changed, as Propose does.
	checkedOut := r.checkedOut(ctx, r.Base) != ""
	var s *session
	done := func() {}
	if checkedOut {
		s, err = r.newSession()
	} else {
		s, done, err = r.openSession()
	}
	if err != nil {
		return nil, false, err
	}
	defer done()
	var w storer.EncodedObjectStorer = s.st
	var added *overlay
	if !checkedOut {
		added = newOverlay(s.st)
		w = added
	}
	refs, err := r.branches(ctx, s)
	if err != nil {
		return nil, false, err
	}
	want := []string{r.Base}
	if _, ok := refs[r.Base]; !ok {
		return nil, false, r.missing(r.Base)
	}
	if branch != "" {
		if _, ok := refs[branch]; !ok {
			return nil, false, r.missing(branch)
		}
		want = append(want, branch)
	}
	commits, err := r.fetch(ctx, s, want...)
	if err != nil {
		return nil, false, err
	}
	tip := commits[0]
	parents := []plumbing.Hash{tip.Hash}
	if branch != "" {
		head := commits[1]
		if head.Hash == tip.Hash || slices.Contains(tip.ParentHashes, head.Hash) {
			return &Commit{SHA: tip.Hash.String(), Base: tip.Hash.String()}, false, nil
		}
		parents = append(parents, head.Hash)
	}
	tree, files, err := r.applyEdit(w, tip, edit)
	if branch != "" && errors.Is(err, ErrNoChanges) {
		// The base already has the content; the merge commit still records
		// that the branch was merged, as git merge would.
		tree, err = tip.TreeHash, nil
	}
	if err != nil {
		return nil, false, err
	}
	c, err := writeCommit(w, tree, parents, r.signature(when), message)
	if err != nil {
		return nil, false, fmt.Errorf("committing to %s: %w", r.Base, err)
	}
	if r.opts.beforePush != nil {
		if err := r.opts.beforePush(ctx, attempt); err != nil {
			return nil, false, err
		}
	}
	res = &Commit{SHA: c.String(), Base: tip.Hash.String(), Files: files, Changed: true}
	var pushErr error
	if checkedOut {
		pushErr = r.push(ctx, s, r.Base, c, false, tip.Hash)
	} else {
		pushErr = r.send(ctx, added, r.Base, tip.Hash, c)
	}
	if pushErr == nil || retry.IsPermanent(pushErr) {
		if pushErr != nil {
			return nil, false, pushErr
		}
		return res, false, nil
	}
	// Whether the rejection was go-git's lease check, the server's stale old
	// value or a lost connection, the remote's tip tells what happened.
	now, err := r.branches(ctx, s)
	if err != nil {
		return nil, false, pushErr
	}
	switch now[r.Base] {
	case c:
		return res, false, nil
	case tip.Hash:
		return nil, false, pushErr
	}
	return nil, true, pushErr
}

// applyEdit runs edit on a snapshot of tip and writes the resulting tree.
func (r *Repo) applyEdit(st storer.EncodedObjectStorer, tip *object.Commit, edit Edit) (plumbing.Hash, []string, error) {
	snap, err := newSnapshot(st, tip)
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("reading tree of %s: %w", short(tip.Hash.String()), err)
	}
	changes, err := edit(snap)
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("editing %s at %s: %w", r.where(), short(tip.Hash.String()), err)
	}
	tree, files, err := applyChanges(st, snap.root, changes)
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("applying changes at %s: %w", short(tip.Hash.String()), err)
	}
	if len(files) == 0 {
		return plumbing.ZeroHash, nil, fmt.Errorf("editing %s at %s: %w", r.where(), short(tip.Hash.String()), ErrNoChanges)
	}
	return tree, files, nil
}

// BranchHead returns the SHA at the tip of branch, or "" when the branch
// does not exist.
func (r *Repo) BranchHead(ctx context.Context, branch string) (string, error) {
	s, err := r.newSession()
	if err != nil {
		return "", err
	}
	refs, err := r.branches(ctx, s)
	if err != nil {
		return "", err
	}
	h, ok := refs[branch]
	if !ok {
		return "", nil
	}
	return h.String(), nil
}

// DeleteBranch deletes branch from the remote; an absent branch is success.
// The base branch cannot be deleted.
func (r *Repo) DeleteBranch(ctx context.Context, branch string) error {
	if err := r.checkBranch(branch); err != nil {
		return err
	}
	s, err := r.newSession()
	if err != nil {
		return err
	}
	return r.push(ctx, s, branch, plumbing.ZeroHash, false, plumbing.ZeroHash)
}

// checkBranch refuses a branch name Conveyor must not write.
func (r *Repo) checkBranch(branch string) error {
	if branch == "" || branch == r.Base {
		return retry.Permanent(fmt.Errorf("checking branch %q: it must be set and differ from the base branch %s", branch, r.Base))
	}
	if err := plumbing.NewBranchReferenceName(branch).Validate(); err != nil {
		return retry.Permanent(fmt.Errorf("checking branch %q: %w", branch, err))
	}
	return nil
}

func (r *Repo) missing(branch string) error {
	return fmt.Errorf("resolving branch %s of %s: %w", branch, r.where(), retry.Permanent(ErrBranchNotFound))
}
