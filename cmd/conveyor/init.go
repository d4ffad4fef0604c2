package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/onboard"
	"github.com/go-git/go-git/v5"
	"github.com/spf13/pflag"
)

func runInit(fs *pflag.FlagSet) runFunc {
	dir := fs.String("path", ".", "the GitOps repository to read and write conveyor.yaml into")
	force := fs.Bool("force", false, "overwrite an existing conveyor.yaml")
	source := fs.String("source", "", `prefix of each app's source repository: "acme" gives acme/<app> (default: a placeholder OWNER/<app> to edit)`)
	reviewers := fs.String("reviewers", "", "comma-separated GitHub users or org/team slugs who approve the environments after each app's first")
	branch := fs.String("branch", "", "GitOps base branch (default: the repository's current branch, else main)")
	dataDir := fs.String("data-dir", local.DefaultDataDir, "the local runtime's data directory, where the starting releases are recorded")
	noImport := fs.Bool("no-import", false, "write conveyor.yaml only; record no starting releases")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: init takes no arguments (give the repository with --path)", errUsage)
		}
		cfg, err := writeProposal(*dir, *force, *branch, onboard.Options{Source: *source, Reviewers: splitList(*reviewers)}, stdout)
		if err != nil {
			return err
		}
		if *noImport {
			return nil
		}
		return importPins(ctx, *dir, *dataDir, cfg, stdout, stderr)
	}
}

// writeProposal scans dir, writes its conveyor.yaml and returns it parsed.
func writeProposal(dir string, force bool, branch string, o onboard.Options, stdout io.Writer) (*config.Config, error) {
	target := filepath.Join(dir, "conveyor.yaml")
	if _, err := os.Lstat(target); err == nil && !force {
		return nil, fmt.Errorf("%s already exists: give --force to replace it", target)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the repository: %w", err)
	}
	defer root.Close()
	found, err := onboard.Scan(root.FS())
	if err != nil {
		return nil, err
	}
	p, err := onboard.Propose(found, o)
	if errors.Is(err, onboard.ErrNoReviewers) {
		return nil, fmt.Errorf("%w: %v: give --reviewers alice,acme/sre", errUsage, err)
	}
	if err != nil {
		return nil, fmt.Errorf("proposing apps in %s: %w", dir, err)
	}
	if branch == "" {
		branch = currentBranch(dir)
	}
	out := onboard.Render(p, onboard.RenderOptions{Branch: branch, Tree: root.FS()})
	// Against the tree: a proposed discover rule's apps are found there.
	cfg, _, err := config.ParseTree(target, out, root.FS())
	if err != nil {
		// A proposal that does not parse is a bug here, not the user's.
		return nil, fmt.Errorf("checking the proposal: %w", err)
	}
	if err := os.WriteFile(target, out, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", target, err)
	}
	fmt.Fprintf(stdout, "wrote %s:\n", target)
	for _, a := range p.Apps {
		var envs []string
		for _, e := range a.Envs {
			envs = append(envs, fmt.Sprintf("%s (%s)", e.Name, e.Strategy))
		}
		fmt.Fprintf(stdout, "  %s  %s  %s\n", a.Name, a.Image, strings.Join(envs, " → "))
	}
	return cfg, nil
}

// importPins records what each environment pins as its starting release
// in the local runtime's data directory.
func importPins(ctx context.Context, dir, dataDir string, cfg *config.Config, stdout, stderr io.Writer) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening the repository: %w", err)
	}
	defer root.Close()
	rt, err := local.Open(ctx, local.Options{DataDir: dataDir, Logger: logging.New(stderr, slog.LevelWarn)})
	if err != nil {
		return err
	}
	defer rt.Close()
	got, err := onboard.Import(ctx, root.FS(), cfg, headCommit(dir), rt.State)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "starting releases (in %s):\n", dataDir)
	for _, im := range got {
		switch {
		case im.Recorded:
			fmt.Fprintf(stdout, "  %s/%s  %s  recorded\n", im.App, im.Env, im.Digest)
		default:
			fmt.Fprintf(stdout, "  %s/%s  -  %s\n", im.App, im.Env, im.Why)
		}
	}
	return nil
}

// headCommit is the checked-out commit of dir, zero when dir is not a git
// repository (a new one).
func headCommit(dir string) onboard.Commit {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return onboard.Commit{}
	}
	ref, err := repo.Head()
	if err != nil {
		return onboard.Commit{}
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return onboard.Commit{}
	}
	subject, _, _ := strings.Cut(c.Message, "\n")
	return onboard.Commit{Hash: c.Hash.String(), Author: c.Author.Name, Subject: subject, At: c.Committer.When.UTC()}
}

// currentBranch is the branch checked out in dir, or "" (main).
func currentBranch(dir string) string {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	ref, err := repo.Head()
	if err != nil || !ref.Name().IsBranch() {
		return ""
	}
	return ref.Name().Short()
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
