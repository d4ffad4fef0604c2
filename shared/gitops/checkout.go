package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// ErrDirtyWorkTree means the GitOps repository is a local clone with the
// pushed branch checked out and uncommitted changes in its work tree or
// index: moving the branch would leave them beside a different commit, so
// nothing was changed. It is permanent until a person commits or stashes.
var ErrDirtyWorkTree = errors.New("the checked-out work tree has uncommitted changes")

// incomingRef holds a pushed commit in a local clone until the checked-out
// branch is moved to it; it never outlives the push.
func incomingRef(branch string) plumbing.ReferenceName {
	return plumbing.ReferenceName("refs/conveyor/incoming/" + branch)
}

// checkedOut returns the work tree of a local, non-bare repository whose
// checked-out branch is branch ("" otherwise). git's receive-pack refuses
// to move such a branch (receive.denyCurrentBranch), so pushCheckedOut
// moves it as "updateInstead" would, on the user's own clone.
func (r *Repo) checkedOut(ctx context.Context, branch string) string {
	u, err := r.endpoint()
	if err != nil {
		return ""
	}
	dir, ok := localDir(u)
	if !ok {
		return ""
	}
	if out, err := runGitCLI(ctx, dir, "rev-parse", "--is-bare-repository"); err != nil || out != "false" {
		return ""
	}
	if head, err := runGitCLI(ctx, dir, "symbolic-ref", "-q", "HEAD"); err != nil || head != plumbing.NewBranchReferenceName(branch).String() {
		return ""
	}
	top, err := runGitCLI(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return ""
	}
	return top
}

// pushCheckedOut pushes commit to the checked-out branch of the clone at
// dir: the objects go to a private ref, then git moves the branch and the
// work tree together with receive.denyCurrentBranch=updateInstead, which
// refuses, changing nothing, when the work tree or index is dirty. expect is
// the lease, as for push.
func (r *Repo) pushCheckedOut(ctx context.Context, s *session, dir, branch string, commit plumbing.Hash, expect plumbing.Hash) error {
	tmp := incomingRef(branch)
	spec := config.RefSpec("+" + commit.String() + ":" + tmp.String())
	if err := r.pushSpec(ctx, s, spec, nil); err != nil {
		return err
	}
	defer func() { _, _ = runGitCLI(context.WithoutCancel(ctx), dir, "update-ref", "-d", tmp.String()) }()
	dst := plumbing.NewBranchReferenceName(branch).String()
	// The local transport drops "git -c" settings on its way to the
	// receiving side, so the setting goes in the receive-pack command.
	args := []string{"push", "--quiet", "--no-verify", "--receive-pack=git -c receive.denyCurrentBranch=updateInstead receive-pack"}
	if !expect.IsZero() {
		args = append(args, "--force-with-lease="+dst+":"+expect.String())
	}
	args = append(args, ".", commit.String()+":"+dst)
	out, err := runGitCLI(ctx, dir, args...)
	switch {
	case err == nil:
		return nil
	case strings.Contains(out, "Working directory has") || strings.Contains(out, "Could not update working tree"):
		// git's updateInstead refusals: unstaged or staged changes, or
		// untracked files the new commit would overwrite.
		return retry.Permanent(fmt.Errorf("pushing to %s of %s: %w: commit or stash them, then try again (the branch and the work tree were not changed)",
			branch, dir, ErrDirtyWorkTree))
	}
	return fmt.Errorf("pushing to the checked-out %s of %s: %w: %s", branch, dir, err, out)
}

// runGitCLI runs the git CLI in dir and returns its trimmed output, stderr
// included (the reason of a refusal is there).
func runGitCLI(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}
