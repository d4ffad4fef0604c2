package history

import (
	"context"
	"errors"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/config"
)

// Repos reads each repository's history where it lives: local paths and
// file:// URLs through Local, repositories on the Gitea's host through
// Gitea when set, everything else through GitHub when set.
type Repos struct {
	GitHub *GitHub
	Gitea  *Gitea
}

// IsAncestor implements the promoter's Ancestry port.
func (r Repos) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	if host, _, _ := config.RepoLocation(repo); r.Gitea != nil && host == r.Gitea.host {
		return r.Gitea.IsAncestor(ctx, repo, ancestor, descendant)
	}
	if _, ok := localDir(repo); ok || r.GitHub == nil {
		if !ok {
			return false, fmt.Errorf("reading the history of %s: no GitHub access configured: %w", repo, errors.ErrUnsupported)
		}
		return Local{}.IsAncestor(ctx, repo, ancestor, descendant)
	}
	return r.GitHub.IsAncestor(ctx, repo, ancestor, descendant)
}
