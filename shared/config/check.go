package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	yamlPath  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	reviewer  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?$`)
	ownerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	// Image repository grammar, after github.com/distribution/reference.
	registryHost  = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$`)
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestPattern = regexp.MustCompile(`^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)
	portPattern   = regexp.MustCompile(`^([0-9]{1,5})(?:/(tcp|udp))?$`)
)

// checkRelPath returns a problem with a path that must stay inside a
// repository, or "".
func checkRelPath(p string) string {
	if path.IsAbs(p) || strings.HasPrefix(p, `\`) {
		return fmt.Sprintf("must be a relative path, got %q", p)
	}
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Sprintf("must not escape the repository with \"..\", got %q", p)
	}
	return ""
}

// checkBranch applies the rules of git check-ref-format to a branch name.
func checkBranch(b string) string {
	bad := b == "" || b == "@" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.ContainsAny(b, " ~^:?*[\\\x7f") || strings.Contains(b, "/.") || strings.HasPrefix(b, ".")
	for _, r := range b {
		if r < 0x20 {
			bad = true
		}
	}
	if bad {
		return fmt.Sprintf("invalid git branch name %q", b)
	}
	return ""
}

func checkEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>,;\"") {
		return fmt.Sprintf("invalid email address %q", e)
	}
	return ""
}

// checkRepo accepts an https URL, a file:// URL, an absolute local path or
// "owner/name"; plain http only for a forge on this machine's loopback
// (a self-hosted Gitea beside the runtime), never across a network.
func checkRepo(repo string) string {
	switch {
	case strings.HasPrefix(repo, "https://") || strings.HasPrefix(repo, "http://") && loopback(repo):
		u, err := url.Parse(repo)
		if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Sprintf("invalid https URL %q: want https://host/owner/name", repo)
		}
		if u.User != nil {
			return fmt.Sprintf("must not carry credentials in the URL, got %q", u.Redacted())
		}
	case strings.HasPrefix(repo, "file://"):
		u, err := url.Parse(repo)
		if err != nil || !path.IsAbs(u.Path) {
			return fmt.Sprintf("invalid file URL %q: want file:///absolute/path", repo)
		}
	case path.IsAbs(repo):
	case !ownerName.MatchString(repo):
		return fmt.Sprintf(`must be an https URL, a file:// URL, an absolute path or "owner/name", got %q (plain http only to a loopback host)`, repo)
	}
	return ""
}

// checkPathGlob validates a source path glob: path.Match syntax, with "**"
// allowed as a whole segment to match any number of directories.
func checkPathGlob(g string) string {
	if g == "" {
		return "empty glob"
	}
	if msg := checkRelPath(g); msg != "" {
		return msg
	}
	for _, seg := range strings.Split(g, "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return fmt.Sprintf("invalid glob %q: ** must be a whole path segment", g)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Sprintf("invalid glob %q: %v", g, err)
		}
	}
	return ""
}

// checkImageRepo accepts an image repository, such as
// "registry.example.com/acme/web" or "acme/web", and names the problem with
// anything else.
func checkImageRepo(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		return fmt.Sprintf("must be an image repository without a digest, got %q: Conveyor adds the digest it promotes", s)
	}
	if last := s[strings.LastIndexByte(s, '/')+1:]; strings.Contains(last, ":") {
		return fmt.Sprintf("must be an image repository without a tag, got %q: select tags with tags.glob or tags.semver", s)
	}
	return checkRepoName(s)
}

func checkRepoName(s string) string {
	if len(s) > 255 {
		return fmt.Sprintf("image repository is %d characters, over 255", len(s))
	}
	parts := strings.Split(s, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		if !registryHost.MatchString(parts[0]) {
			return fmt.Sprintf("invalid registry host %q in image %q", parts[0], s)
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !pathComponent.MatchString(p) {
			return fmt.Sprintf("invalid image repository %q: path component %q must be lowercase letters and digits, separated by '.', '_' or '-'", s, p)
		}
	}
	return ""
}

// checkImageRef accepts an image reference: repository[:tag][@digest].
func checkImageRef(s string) string {
	repo := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		repo = s[:i]
		if !digestPattern.MatchString(s[i+1:]) {
			return fmt.Sprintf("invalid digest %q in image reference %q", s[i+1:], s)
		}
	}
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		if tag := repo[i+1:]; !tagPattern.MatchString(tag) {
			return fmt.Sprintf("invalid tag %q in image reference %q", tag, s)
		}
		repo = repo[:i]
	}
	if repo == "" {
		return fmt.Sprintf("invalid image reference %q", s)
	}
	return checkRepoName(repo)
}

func checkPort(s string) string {
	m := portPattern.FindStringSubmatch(s)
	if m == nil {
		return fmt.Sprintf(`must be "port" or "port/proto" with proto tcp or udp, got %q`, s)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > 65535 {
		return fmt.Sprintf("port %s out of range 1-65535", m[1])
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// loopback reports whether the http URL raw names a loopback host.
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if h := u.Hostname(); h == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
