package history

import (
	"context"
	"errors"
	"fmt"
)

// Repos reads each repository's history where it lives: local paths and
// file:// URLs through Local, everything else through GitHub when set.
type Repos struct {
	GitHub *GitHub
}

// IsAncestor implements the promoter's Ancestry port.
func (r Repos) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	if _, ok := localDir(repo); ok || r.GitHub == nil {
		if !ok {
			return false, fmt.Errorf("reading the history of %s: no GitHub access configured: %w", repo, errors.ErrUnsupported)
		}
		return Local{}.IsAncestor(ctx, repo, ancestor, descendant)
	}
	return r.GitHub.IsAncestor(ctx, repo, ancestor, descendant)
}
