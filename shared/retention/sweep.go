package retention

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// buildTag matches the tags builds write (sha-<12 hex>): what a sweep may
// expire.
var buildTag = regexp.MustCompile(`^sha-[0-9a-f]{12}$`)

// attachmentTag matches the tags of an image's attachments: the referrers
// tag and cosign's, sha256-<hex>[.att|.sig|.sbom].
var attachmentTag = regexp.MustCompile(`^sha256-([0-9a-f]{64})(\.(att|sig|sbom))?$`)

// Sweep deletes from repo every image tagged only sha-<12 hex> whose
// digest no release-* tag protects, with its attachment tags: the rule a
// registry lifecycle policy applies, for a registry Conveyor cleans itself.
// Tags of other forms are left alone. It returns the deleted digests,
// sorted; with dryRun it deletes nothing and returns what it would delete.
func Sweep(ctx context.Context, repo name.Repository, dryRun bool, opts ...remote.Option) ([]string, error) {
	ropts := append([]remote.Option{remote.WithContext(ctx)}, opts...)
	tags, err := remote.List(repo, ropts...)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	protected := map[string]bool{}
	candidates := map[string][]string{} // digest → its tags
	attachments := map[string][]string{}
	for _, t := range tags {
		switch {
		case strings.HasPrefix(t, TagPrefix), buildTag.MatchString(t):
			d, err := remote.Head(repo.Tag(t), ropts...)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", repo.Tag(t), err)
			}
			if strings.HasPrefix(t, TagPrefix) {
				protected[d.Digest.String()] = true
			} else {
				candidates[d.Digest.String()] = append(candidates[d.Digest.String()], t)
			}
		case attachmentTag.MatchString(t):
			hex := attachmentTag.FindStringSubmatch(t)[1]
			attachments["sha256:"+hex] = append(attachments["sha256:"+hex], t)
		}
	}
	var deleted []string
	for d := range candidates {
		if !protected[d] {
			deleted = append(deleted, d)
		}
	}
	sort.Strings(deleted)
	if dryRun {
		return deleted, nil
	}
	for _, d := range deleted {
		// The attachments go first: deleting the image first would leave
		// them pointing at nothing if the sweep stopped half-way.
		for _, t := range attachments[d] {
			if err := deleteTagged(repo.Tag(t), ropts); err != nil {
				return nil, err
			}
		}
		for _, t := range candidates[d] {
			if err := deleteTag(repo.Tag(t), ropts); err != nil {
				return nil, err
			}
		}
		if err := remote.Delete(repo.Digest(d), ropts...); err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("deleting %s@%s: %w", repo, d, err)
		}
	}
	return deleted, nil
}

// deleteTag removes a tag where the registry lets tags be deleted; where
// it does not, deleting the manifest removes its tags.
func deleteTag(tag name.Tag, ropts []remote.Option) error {
	err := remote.Delete(tag, ropts...)
	var te *transport.Error
	if err == nil || isNotFound(err) || errors.As(err, &te) && (te.StatusCode == http.StatusMethodNotAllowed || te.StatusCode == http.StatusBadRequest) {
		return nil
	}
	return fmt.Errorf("deleting %s: %w", tag, err)
}

// deleteTagged deletes the manifest a tag points to.
func deleteTagged(tag name.Tag, ropts []remote.Option) error {
	d, err := remote.Head(tag, ropts...)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	if err := deleteTag(tag, ropts); err != nil {
		return err
	}
	if err := remote.Delete(tag.Context().Digest(d.Digest.String()), ropts...); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting %s: %w", tag, err)
	}
	return nil
}
