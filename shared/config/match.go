package config

import (
	"net/url"
	"path"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// MatchesPush reports whether a push of changedFiles to branch of repo
// should build a: same repository, same branch, and, when a.Source.Paths is
// set, at least one changed file matching one of its globs.
//
// Repositories are compared normalised: https (and http, ssh, scp-style
// git@host:owner/name) URLs with or without ".git" compare by host and
// owner/name, case-insensitively, and "owner/name" means GitHub; when
// either side gives no host, owner/name alone is compared. Local paths and
// file:// URLs compare as cleaned paths. branch may be given as
// "refs/heads/<name>". A push that lists no changed files matches even
// when paths are set, because GitHub leaves the list out of large pushes.
func (a *App) MatchesPush(repo, branch string, changedFiles []string) bool {
	if !sameRepo(a.Source.Repo, repo) {
		return false
	}
	if strings.TrimPrefix(branch, "refs/heads/") != a.Source.Branch {
		return false
	}
	if len(a.Source.Paths) == 0 || len(changedFiles) == 0 {
		return true
	}
	for _, f := range changedFiles {
		f = strings.TrimPrefix(path.Clean("/"+f), "/")
		for _, g := range a.Source.Paths {
			if matchGlob(g, f) {
				return true
			}
		}
	}
	return false
}

// AcceptsTag reports whether an image pushed with tag should be promoted.
// Without a policy every tag is accepted, and so is a digest-only push
// (tag ""). With one, a digest-only push is refused and a tag is accepted
// when it matches any glob or satisfies the semver constraint; a tag is a
// semantic version when it reads MAJOR.MINOR.PATCH, optionally with a "v"
// prefix, a pre-release and build metadata.
func (a *App) AcceptsTag(tag string) bool {
	p := a.Tags
	if len(p.Glob) == 0 && p.Semver == "" {
		return true
	}
	if tag == "" {
		return false
	}
	for _, g := range p.Glob {
		if ok, _ := path.Match(g, tag); ok {
			return true
		}
	}
	if p.Semver == "" {
		return false
	}
	c, err := semver.NewConstraint(p.Semver)
	if err != nil {
		return false
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	return err == nil && c.Check(v)
}

// repoID is a repository normalised for comparison.
type repoID struct {
	local bool
	host  string // lower case; "" when not given
	path  string // owner/name in lower case, or a cleaned local path
}

func parseRepo(s string) repoID {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "file://"):
		if u, err := url.Parse(s); err == nil {
			return repoID{local: true, path: path.Clean(u.Path)}
		}
		return repoID{local: true, path: path.Clean(strings.TrimPrefix(s, "file://"))}
	case path.IsAbs(s):
		return repoID{local: true, path: path.Clean(s)}
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil {
			return repoID{path: strings.ToLower(s)}
		}
		return repoID{host: strings.ToLower(u.Hostname()), path: ownerPath(u.Path)}
	}
	// scp-like: git@github.com:owner/name.git
	if at, colon := strings.IndexByte(s, '@'), strings.IndexByte(s, ':'); colon > 0 && at < colon && !strings.Contains(s[:colon], "/") {
		return repoID{host: strings.ToLower(s[at+1 : colon]), path: ownerPath(s[colon+1:])}
	}
	return repoID{path: ownerPath(s)}
}

func ownerPath(p string) string {
	p = strings.Trim(p, "/")
	p = strings.TrimSuffix(p, ".git")
	return strings.ToLower(p)
}

// SameRepo reports whether a and b name the same repository, compared
// normalised as MatchesPush compares them.
func SameRepo(a, b string) bool { return sameRepo(a, b) }

// RepoLocation splits a repository location as SameRepo reads it: a local
// path (local true, path cleaned), or a host (lower case, "" when not given)
// and owner/name (lower case, without ".git").
func RepoLocation(s string) (host, path string, local bool) {
	r := parseRepo(s)
	return r.host, r.path, r.local
}

func sameRepo(a, b string) bool {
	x, y := parseRepo(a), parseRepo(b)
	if x.local || y.local {
		return x.local == y.local && x.path == y.path
	}
	if x.path == "" || x.path != y.path {
		return false
	}
	return x.host == "" || y.host == "" || x.host == y.host
}

// matchGlob matches a slash-separated name against a glob in which "**"
// as a whole segment matches any number of segments, zero included, and
// every other segment follows path.Match.
func matchGlob(pattern, name string) bool {
	return matchSegments(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range len(name) + 1 {
				if matchSegments(pat, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
