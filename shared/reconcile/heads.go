package reconcile

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// SourceHeads returns a Heads that asks each app's configured source (never
// a push payload's) for its branch head with one ls-remote, authenticated
// by auth (nil: none), as the builder would clone it.
func SourceHeads(gitHost string, auth func(ctx context.Context, repoURL string) (transport.AuthMethod, error)) Heads {
	return func(ctx context.Context, a *config.App) (_ string, err error) {
		location := a.Source.Location(gitHost)
		defer func() { err = logging.RedactError(err) }()
		var am transport.AuthMethod
		if auth != nil {
			if am, err = auth(ctx, location); err != nil {
				return "", err
			}
		}
		u := location
		if !strings.Contains(u, "://") {
			abs, err := filepath.Abs(u)
			if err != nil {
				return "", err
			}
			u = (&url.URL{Scheme: "file", Path: abs}).String()
		}
		remote := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{u}})
		refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: am})
		if err != nil {
			return "", fmt.Errorf("listing the branches of %s: %w", location, err)
		}
		want := plumbing.NewBranchReferenceName(a.Source.Branch)
		for _, r := range refs {
			if r.Name() == want {
				return r.Hash().String(), nil
			}
		}
		return "", fmt.Errorf("listing the branches of %s: no branch %s", location, a.Source.Branch)
	}
}
