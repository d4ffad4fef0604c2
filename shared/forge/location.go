package forge

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Location is a repository's URL on a forge, split as forges address it.
type Location struct {
	// Base is the forge's web root: scheme, host and the sub-path the forge
	// is served under, if any ("https://host/git" for a Gitea whose
	// ROOT_URL is https://host/git/), without a trailing slash.
	Base string
	// Host is the URL's host[:port], where the forge's credentials may go.
	Host string
	// Owner and Name are the repository's last two path segments, ".git"
	// stripped.
	Owner, Name string
}

// Slug is "owner/name", the repository's name in webhooks and reviews.
func (l Location) Slug() string { return l.Owner + "/" + l.Name }

// SubPath reports whether the forge is served under a sub-path of its host.
func (l Location) SubPath() bool {
	u, err := url.Parse(l.Base)
	return err == nil && strings.Trim(u.Path, "/") != ""
}

// ParseLocation splits an http(s) repository URL: the last two path
// segments are owner and name, anything before them the forge's sub-path.
// Query, fragment and user info are refused: a credential in a URL would be
// sent wherever the URL is.
func ParseLocation(location string) (Location, error) {
	u, err := url.Parse(location)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Location{}, fmt.Errorf("%s is not an http(s) repository URL", location)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("%s: a repository URL carries no user, query or fragment", location)
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(strings.TrimRight(u.Path, "/"), ".git"), "/"), "/")
	n := len(parts)
	if n < 2 || parts[n-2] == "" || parts[n-1] == "" {
		return Location{}, fmt.Errorf("%s is not a URL of the form %s://%s/OWNER/REPO", location, u.Scheme, u.Host)
	}
	base := u.Scheme + "://" + u.Host
	if n > 2 {
		base += "/" + strings.Join(parts[:n-2], "/")
	}
	return Location{Base: base, Host: u.Host, Owner: parts[n-2], Name: parts[n-1]}, nil
}

// SafeForCredentials reports whether a credential may be sent to u: over
// https anywhere, over plain http only to a loopback host (a forge run by
// a test or on the same machine), where nothing crosses a network.
func SafeForCredentials(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return u.Host != ""
	case "http":
		return IsLoopback(u.Hostname())
	}
	return false
}

// IsLoopback reports whether host (without port) is localhost or a
// loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
