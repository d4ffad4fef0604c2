package localforge

import (
	"errors"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func (f *Forge) open() (*git.Repository, error) {
	r, err := git.PlainOpen(f.dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", f.dir, err)
	}
	return r, nil
}

func (f *Forge) branchHead(branch string) (string, error) {
	r, err := f.open()
	if err != nil {
		return "", err
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return ref.Hash().String(), nil
}

// change is one file a branch's commit changed: its content before (in the
// commit's parent) and after.
type change struct {
	path          string
	before, after []byte // nil: absent
}

// branchChanges returns what the branch's head commit changed against its
// first parent: Conveyor's promotion branches are one commit on the base.
func (f *Forge) branchChanges(branch string) ([]change, error) {
	r, err := f.open()
	if err != nil {
		return nil, err
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("reading branch %s: %w", branch, err))
	}
	head, err := r.CommitObject(ref.Hash())
	if err != nil {
		return nil, err
	}
	parent, err := head.Parent(0)
	if err != nil {
		return nil, fmt.Errorf("reading the parent of %s: %w", branch, err)
	}
	from, err := parent.Tree()
	if err != nil {
		return nil, err
	}
	to, err := head.Tree()
	if err != nil {
		return nil, err
	}
	diff, err := from.Diff(to)
	if err != nil {
		return nil, err
	}
	var out []change
	for _, d := range diff {
		var c change
		if d.From.Name != "" {
			c.path = d.From.Name
			if c.before, err = blob(from, d.From.Name); err != nil {
				return nil, err
			}
		}
		if d.To.Name != "" {
			c.path = d.To.Name
			if c.after, err = blob(to, d.To.Name); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func blob(t *object.Tree, p string) ([]byte, error) {
	file, err := t.File(p)
	if err != nil {
		return nil, err
	}
	s, err := file.Contents()
	return []byte(s), err
}
