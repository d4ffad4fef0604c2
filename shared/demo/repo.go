package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a local git repository made for the demo or a test.
type Repo struct {
	Dir  string
	repo *git.Repository
}

// InitRepo creates a repository in dir on branch main.
func InitRepo(dir string) (*Repo, error) {
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return nil, fmt.Errorf("initialising %s: %w", dir, err)
	}
	return &Repo{Dir: dir, repo: r}, nil
}

// Commit writes files (path → content; "" content deletes) and commits them
// at time when, returning the commit.
func (r *Repo) Commit(files map[string]string, message string, when time.Time) (*object.Commit, error) {
	wt, err := r.repo.Worktree()
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	added := 0
	for _, p := range paths {
		full := filepath.Join(r.Dir, filepath.FromSlash(p))
		if files[p] == "" {
			if _, err := wt.Remove(p); err != nil {
				return nil, fmt.Errorf("removing %s: %w", p, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			return nil, err
		}
		added++
	}
	// One pass over the worktree: adding files one by one rescans it
	// each time, which is quadratic for a thousand-app repository.
	if added > 0 {
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			return nil, fmt.Errorf("adding files: %w", err)
		}
	}
	sig := &object.Signature{Name: "Demo Developer", Email: "dev@demo.example", When: when}
	h, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	return r.repo.CommitObject(h)
}

// CommitObject returns the commit with sha.
func (r *Repo) CommitObject(sha string) (*object.Commit, error) {
	return r.repo.CommitObject(plumbing.NewHash(sha))
}

// AcceptPushes lets clients push to the checked-out branch, updating the
// working tree as they do (receive.denyCurrentBranch=updateInstead), so a
// person can read the GitOps repository's files as Conveyor changes them.
func (r *Repo) AcceptPushes() error {
	cfg, err := r.repo.Config()
	if err != nil {
		return err
	}
	cfg.Raw.Section("receive").SetOption("denyCurrentBranch", "updateInstead")
	return r.repo.SetConfig(cfg)
}
