package retention

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TagPrefix starts every tag Protect writes; a lifecycle rule keeps the
// images tagged with it.
const TagPrefix = "release-"

// DefaultPrevious is how many earlier releases of an environment stay
// protected, as rollback targets, besides the current one.
const DefaultPrevious = 2

// Tag names the tag of an environment's i-th newest release: release-<env>
// for the current one (i = 0), release-<env>-<i> for earlier ones.
func Tag(env string, i int) string {
	if i == 0 {
		return TagPrefix + env
	}
	return TagPrefix + env + "-" + strconv.Itoa(i)
}

// Targets returns the digests to protect for an environment from its
// release records: the merged releases' distinct digests, newest merge
// first, at most previous+1.
func Targets(rels []state.Release, previous int) []string {
	merged := make([]state.Release, 0, len(rels))
	for _, r := range rels {
		if r.State == state.Merged && r.Digest != "" {
			merged = append(merged, r)
		}
	}
	sort.SliceStable(merged, func(i, j int) bool { return merged[i].MergedAt.After(merged[j].MergedAt) })
	var out []string
	seen := map[string]bool{}
	for _, r := range merged {
		if seen[r.Digest] {
			continue
		}
		seen[r.Digest] = true
		out = append(out, r.Digest)
		if len(out) == previous+1 {
			break
		}
	}
	return out
}

// Protect points env's release tags at digests (newest first, see
// Targets) in repo. A tag already there is left alone, so a repeated call
// writes nothing.
func Protect(ctx context.Context, repo name.Repository, env string, digests []string, opts ...remote.Option) error {
	ropts := append([]remote.Option{remote.WithContext(ctx)}, opts...)
	for i, d := range digests {
		tag := repo.Tag(Tag(env, i))
		if cur, err := remote.Head(tag, ropts...); err == nil && cur.Digest.String() == d {
			continue
		} else if err != nil && !isNotFound(err) {
			return fmt.Errorf("checking %s: %w", tag, err)
		}
		desc, err := remote.Get(repo.Digest(d), ropts...)
		if err != nil {
			return fmt.Errorf("reading %s@%s to protect it: %w", repo, d, err)
		}
		if err := remote.Tag(tag, desc, ropts...); err != nil {
			return fmt.Errorf("tagging %s: %w", tag, err)
		}
	}
	return nil
}

// Protected reports whether digest carries one of env's release tags in
// repo.
func Protected(ctx context.Context, repo name.Repository, env, digest string, previous int, opts ...remote.Option) (bool, error) {
	ropts := append([]remote.Option{remote.WithContext(ctx)}, opts...)
	for i := 0; i <= previous; i++ {
		d, err := remote.Head(repo.Tag(Tag(env, i)), ropts...)
		switch {
		case err == nil && d.Digest.String() == digest:
			return true, nil
		case err != nil && !isNotFound(err):
			return false, fmt.Errorf("reading %s: %w", repo.Tag(Tag(env, i)), err)
		}
	}
	return false, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
