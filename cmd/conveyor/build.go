package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/spf13/pflag"
)

func runBuild(fs *pflag.FlagSet) runFunc {
	contextDir := fs.String("context", ".", "build context directory")
	dockerfile := fs.String("dockerfile", "", "Dockerfile path (default: <context>/Dockerfile)")
	push := fs.String("push", "", "repository to push to, e.g. 127.0.0.1:5000/acme/web (tagged sha-<revision>); stdout is then repo@sha256:…; without it the image is built into a throwaway local registry and stdout is its digest")
	revision := fs.String("revision", "", "source revision (default: the context's git HEAD)")
	sourceURL := fs.String("source", "", "org.opencontainers.image.source (default: the git remote origin)")
	created := fs.String("created", "", "image creation time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else the HEAD commit's time, else 1970-01-01)")
	imageRefs := fs.String("image-refs", "", "also write the image reference (repo@sha256:…, or the digest without --push) to this file")
	ociLayout := fs.String("oci-layout", "", "write the image to this OCI image layout directory (replaced if there) instead of pushing it; stdout is then DIR@sha256:…")
	platformSpecs := fs.StringSlice("platform", nil, "platform to build, os/arch[/variant] (repeatable or comma-separated: linux/amd64,linux/arm64); several make an OCI index (default: the base image's platforms; linux/amd64 for FROM scratch)")
	var buildArgs multiFlag
	fs.Var(&buildArgs, "build-arg", "KEY=VALUE build argument (repeatable)")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		if *push != "" && *ociLayout != "" {
			return fmt.Errorf("%w: --push and --oci-layout are exclusive", errUsage)
		}
		platforms, err := imagebuild.ParsePlatforms(*platformSpecs)
		if err != nil {
			return fmt.Errorf("%w: --platform: %v", errUsage, err)
		}
		argMap := map[string]string{}
		for _, kv := range buildArgs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("%w: --build-arg %q is not KEY=VALUE", errUsage, kv)
			}
			argMap[k] = v
		}
		dir, err := filepath.Abs(*contextDir)
		if err != nil {
			return err
		}
		head := gitHead(dir)
		if *revision == "" {
			*revision = head.sha
		}
		if *sourceURL == "" {
			*sourceURL = head.origin
		}
		when, err := creationTime(*created, head.when)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if *revision == "" {
			return fmt.Errorf("%w: %s is not in a git repository: give --revision", errUsage, dir)
		}
		dfPath := *dockerfile
		if dfPath == "" {
			dfPath = filepath.Join(dir, "Dockerfile")
		}
		f, err := os.Open(dfPath)
		if err != nil {
			return fmt.Errorf("opening Dockerfile: %w", err)
		}
		recipe, err := imagebuild.ParseDockerfile(filepath.Base(dfPath), f, argMap)
		f.Close()
		if err != nil {
			return err
		}
		target := *push
		if target == "" {
			// The digest is a property of the bytes, not of the registry: a
			// throwaway registry on loopback gives the digest a push would.
			tmp, err := os.MkdirTemp("", "conveyor-build-registry-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithBlobHandler(registry.NewDiskBlobHandler(tmp))))
			defer srv.Close()
			target = strings.TrimPrefix(srv.URL, "http://") + "/conveyor/dry-run"
		}
		repo, err := name.NewRepository(target)
		if err != nil {
			return fmt.Errorf("%w: --push %q: %v", errUsage, target, err)
		}
		// Inside a git worktree the context is resolved from the worktree's
		// root, as the build function resolves it from the checkout: a
		// committed symlink cannot pull files from outside the repository.
		root, sub := dir, ""
		if rel, err := filepath.Rel(head.root, dir); head.root != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			root, sub = head.root, filepath.ToSlash(rel)
		}
		opts := imagebuild.Options{ContextDir: root, ContextPath: sub, Recipe: recipe, Repository: repo, SourceURL: *sourceURL, Revision: *revision, Created: when, Platforms: platforms,
			// The rebuild shortcut trusts that a revision names its files:
			// only true for a clean checkout of that very commit.
			UncommittedContext: !head.clean || *revision != head.sha || holdsUntracked(head.tree, root, sub)}
		if isTerminal(stderr) {
			opts.Progress = func(p imagebuild.Progress) {
				fmt.Fprintf(stderr, "\r%-10s layer %d/%d  %s / %s   ", p.Phase, p.Layer, p.Layers, humanBytes(p.Bytes), humanBytes(p.Total))
			}
		}
		start := time.Now()
		res, err := imagebuild.Build(ctx, opts)
		if opts.Progress != nil {
			fmt.Fprintln(stderr)
		}
		if err != nil {
			return err
		}
		ref := res.Ref
		switch {
		case *ociLayout != "":
			if err := writeLayout(ctx, *ociLayout, repo.Digest(res.Digest.String()), res.Tag); err != nil {
				return err
			}
			ref = *ociLayout + "@" + res.Digest.String()
		case *push == "":
			// The throwaway registry's name means nothing after exit.
			ref = res.Digest.String()
		}
		if *imageRefs != "" {
			if err := os.WriteFile(*imageRefs, []byte(ref+"\n"), 0o644); err != nil {
				return fmt.Errorf("writing --image-refs: %w", err)
			}
		}
		// stdout is the reference alone, for $(conveyor build …) and
		// pipes, as ko build and crane digest print theirs.
		fmt.Fprintln(stdout, ref)
		buildReport(stderr, res, ref, *push != "", *ociLayout, time.Since(start))
		return nil
	}
}

// buildReport describes the build on stderr. Its first word is "image"
// whichever way it went, so that a script matching it need not know
// whether the registry had the image already.
func buildReport(w io.Writer, res *imagebuild.Result, ref string, pushed bool, layout string, took time.Duration) {
	outcome := "pushed"
	switch {
	case layout != "":
		outcome = "written to the OCI layout " + layout
	case !pushed:
		outcome = "not pushed: no --push"
	case !res.Pushed:
		outcome = "already in the registry"
	}
	fmt.Fprintf(w, "%-9s %s (%s)\n", "image", ref, outcome)
	// The rest of imagebuild's description; its first line is the one
	// above, the tag is only a tag once pushed.
	_, rest, _ := strings.Cut(imagebuild.Describe(res), "\n")
	for line := range strings.Lines(rest) {
		if pushed || !strings.HasPrefix(line, "tag ") {
			fmt.Fprint(w, line)
		}
	}
	fmt.Fprintf(w, "%-9s %.2fs\n", "built in", took.Seconds())
}

type headInfo struct {
	sha, origin string
	root        string // the worktree's top directory
	when        time.Time
	clean       bool
	tree        *object.Tree // HEAD's
}

func gitHead(dir string) headInfo {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return headInfo{}
	}
	ref, err := repo.Head()
	if err != nil {
		return headInfo{}
	}
	var h headInfo
	h.sha = ref.Hash().String()
	if c, err := repo.CommitObject(ref.Hash()); err == nil {
		h.when = c.Committer.When.UTC()
		h.tree, _ = c.Tree()
	}
	if r, err := repo.Remote("origin"); err == nil && len(r.Config().URLs) > 0 {
		h.origin = r.Config().URLs[0]
	}
	if wt, err := repo.Worktree(); err == nil {
		h.root = wt.Filesystem.Root()
		if st, err := wt.Status(); err == nil {
			h.clean = st.IsClean()
		}
	}
	return h
}

// holdsUntracked says whether the context sub of the worktree at root
// holds a file HEAD's tree lacks: an ignored one (a clean status shows no
// other), such as binaries built into bin/ for an image. The revision then
// does not name the context's files. Without a tree, nothing is known.
func holdsUntracked(tree *object.Tree, root, sub string) bool {
	if tree == nil {
		return true
	}
	found := false
	_ = filepath.WalkDir(filepath.Join(root, filepath.FromSlash(sub)), func(path string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipAll
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, rerr := filepath.Rel(root, path)
		if rerr != nil {
			found = true
			return filepath.SkipAll
		}
		if _, ferr := tree.FindEntry(filepath.ToSlash(rel)); ferr != nil {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

func creationTime(flag string, commit time.Time) (time.Time, error) {
	if flag != "" {
		t, err := time.Parse(time.RFC3339, flag)
		if err != nil {
			return time.Time{}, fmt.Errorf("--created %q is not RFC 3339", flag)
		}
		return t.UTC(), nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a Unix time", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if !commit.IsZero() {
		return commit, nil
	}
	return time.Unix(0, 0).UTC(), nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Type names the flag's value in help, as pflag asks of every value.
func (m *multiFlag) Type() string { return "stringArray" }
