package manifest

import (
	"fmt"
	"regexp"
	"strings"
)

// Ref is an image reference to write: a repository, an optional tag and a
// digest. The tag is informational unless a target keeps it.
type Ref struct {
	Repository string // e.g. ghcr.io/acme/web
	Tag        string // optional, e.g. v1.2.3
	Digest     string // sha256:<64 lowercase hex>
}

var (
	// Simplified from the distribution reference grammar.
	repositoryRE = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE        = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE     = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// ParseRef parses "repository[:tag]@sha256:<hex>". A reference without a
// digest is refused with ErrNoDigest.
func ParseRef(s string) (Ref, error) {
	r := splitRef(s)
	if err := r.Validate(); err != nil {
		return Ref{}, fmt.Errorf("parsing ref %q: %w", s, err)
	}
	return r, nil
}

// Validate reports whether r can be written: a valid repository, an
// optional valid tag and a sha256 digest.
func (r Ref) Validate() error {
	switch {
	case !repositoryRE.MatchString(r.Repository) || len(r.Repository) > 255:
		return fmt.Errorf("%w: repository %q", ErrInvalidRef, r.Repository)
	case r.Tag != "" && !tagRE.MatchString(r.Tag):
		return fmt.Errorf("%w: tag %q", ErrInvalidRef, r.Tag)
	case r.Digest == "":
		return fmt.Errorf("%w: a mutable tag is never written", ErrNoDigest)
	case !digestRE.MatchString(r.Digest):
		return fmt.Errorf("%w: digest %q is not sha256:<64 lowercase hex>", ErrInvalidRef, r.Digest)
	}
	return nil
}

// String returns repository[:tag]@digest.
func (r Ref) String() string { return r.Image(true) }

// Image returns the reference to write: repository@digest, or
// repository:tag@digest when keepTag is set and r has a tag.
func (r Ref) Image(keepTag bool) string {
	s := r.Repository
	if keepTag && r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// splitRef splits any image reference, with or without tag and digest,
// without validating it.
func splitRef(s string) Ref {
	var r Ref
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, r.Digest = s[:i], s[i+1:]
	}
	// A colon after the last slash starts the tag; one before it is a port.
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "/") {
		s, r.Tag = s[:i], s[i+1:]
	}
	r.Repository = s
	return r
}

// looksLikeImage reports whether s reads as an image reference, with or
// without tag and digest, so a marker never overwrites something else.
func looksLikeImage(s string) bool {
	r := splitRef(s)
	return repositoryRE.MatchString(r.Repository) &&
		(r.Tag == "" || tagRE.MatchString(r.Tag)) &&
		(r.Digest == "" || digestRE.MatchString(r.Digest)) &&
		!strings.HasSuffix(s, ":") && !strings.HasSuffix(s, "@")
}

// normalizeRepository returns the repository of image without tag or digest
// and in its short Docker Hub form, so "docker.io/library/nginx:1" and
// "nginx" compare equal.
func normalizeRepository(image string) string {
	s := splitRef(image).Repository
	for _, p := range []string{"index.docker.io/", "registry-1.docker.io/", "docker.io/"} {
		if strings.HasPrefix(s, p) {
			s = strings.TrimPrefix(s, p)
			break
		}
	}
	if rest, ok := strings.CutPrefix(s, "library/"); ok && !strings.Contains(rest, "/") {
		s = rest
	}
	return s
}

func sameRepository(a, b string) bool {
	return a != "" && normalizeRepository(a) == normalizeRepository(b)
}
