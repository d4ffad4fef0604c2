package gitops

import (
	"context"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Head returns the commit at the tip of branch (HEAD when branch is empty)
// in the repository at location, without fetching anything: a local
// repository's reference is read in place, a remote one's is listed in one
// round trip (git ls-remote). It lets a reader of one file skip the fetch
// when the tip has not moved.
func Head(ctx context.Context, location, branch string, auth transport.AuthMethod) (string, error) {
	if !IsRemote(location) {
		repo, err := open(ctx, location, branch, auth)
		if err != nil {
			return "", err
		}
		ref, err := repo.Reference(headName(branch), true)
		if err != nil {
			return "", fmt.Errorf("resolving %s in %s: %w", orHead(branch), logging.RedactURLs(location), err)
		}
		return ref.Hash().String(), nil
	}
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: remoteName, URLs: []string{location}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		// go-git's error repeats the URL: redact the whole message.
		return "", logging.RedactError(fmt.Errorf("listing the references of %s: %w", location, classify(err)))
	}
	if h, ok := resolveListed(refs, headName(branch)); ok {
		return h.String(), nil
	}
	return "", fmt.Errorf("resolving %s in %s: %w", orHead(branch), logging.RedactURLs(location), plumbing.ErrReferenceNotFound)
}

func headName(branch string) plumbing.ReferenceName {
	if branch == "" {
		return plumbing.HEAD
	}
	return plumbing.NewBranchReferenceName(branch)
}

// resolveListed finds name among advertised references, following HEAD
// when the server advertises it as a symbolic reference to a branch.
func resolveListed(refs []*plumbing.Reference, name plumbing.ReferenceName) (plumbing.Hash, bool) {
	for range 2 {
		for _, ref := range refs {
			if ref.Name() != name {
				continue
			}
			if ref.Type() == plumbing.HashReference {
				return ref.Hash(), true
			}
			name = ref.Target()
			break
		}
	}
	return plumbing.ZeroHash, false
}
