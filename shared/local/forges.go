package local

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/gitlabforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/pipeline"
)

// Forge kinds: what `conveyor dev --forge` and $CONVEYOR_FORGE accept.
const (
	ForgeLocal  = "local"
	ForgeGitHub = "github"
	ForgeGitea  = "gitea"
	ForgeGitLab = "gitlab"
)

// Environment variables that select and authenticate the forge.
const (
	// EnvForge is the forge kind when --forge is not given.
	EnvForge = "CONVEYOR_FORGE"
	// EnvForgeURL is the forge's API base when --forge-url is not given.
	EnvForgeURL = "CONVEYOR_FORGE_URL"
	// EnvGitHubToken authenticates to GitHub's API.
	EnvGitHubToken = "CONVEYOR_GITHUB_TOKEN"
	// EnvGiteaToken authenticates to Gitea's API and to git on its host.
	EnvGiteaToken = "CONVEYOR_GITEA_TOKEN"
	// EnvGitLabToken authenticates to GitLab's API and to git on its host.
	EnvGitLabToken = "CONVEYOR_GITLAB_TOKEN"
)

// ForgeSpec says which forge hosts the GitOps repository.
type ForgeSpec struct {
	// Kind is ForgeLocal, ForgeGitHub or ForgeGitea; empty picks by the
	// repository's location: a path is local, https://github.com/… GitHub.
	// Any other URL must name its forge: hosts are not guessed from.
	Kind string
	// URL is the forge's API base: for Gitea its web root (default: the
	// repository URL's scheme, host and sub-path); for GitHub the REST
	// API (default https://api.github.com/, https://HOST/api/v3/ for
	// GitHub Enterprise). Unused for the local forge.
	URL string
}

// EnvForgeSpec reads $CONVEYOR_FORGE and $CONVEYOR_FORGE_URL.
func EnvForgeSpec() ForgeSpec {
	return ForgeSpec{Kind: strings.TrimSpace(os.Getenv(EnvForge)), URL: strings.TrimSpace(os.Getenv(EnvForgeURL))}
}

// GitOpsOption configures OpenGitOps and PipelineSource.
type GitOpsOption func(*gitopsOptions)

type gitopsOptions struct {
	forge ForgeSpec
}

// WithForge selects the GitOps repository's forge (default: by location).
func WithForge(s ForgeSpec) GitOpsOption { return func(o *gitopsOptions) { o.forge = s } }

// forgeTarget is a ForgeSpec resolved against a repository location.
type forgeTarget struct {
	kind string
	// api is the API base; loc the repository on the forge (zero for the
	// local forge).
	api string
	loc forge.Location
	// project is the repository's full path on GitLab, which nests
	// groups ("acme/platform/gitops"); empty elsewhere.
	project string
}

// errForgeFlag is the usage hint every forge selection error ends with.
const errForgeFlag = "--forge local|github|gitea|gitlab (or $" + EnvForge + ")"

// selectForge resolves spec for the repository at location. Adding a forge
// is one case here and one in openForge.
func selectForge(location string, spec ForgeSpec) (forgeTarget, error) {
	kind := strings.ToLower(spec.Kind)
	if kind == "" {
		switch {
		case !strings.Contains(location, "://") || strings.HasPrefix(location, "file://"):
			kind = ForgeLocal
		case strings.HasPrefix(location, "https://github.com/"):
			kind = ForgeGitHub
		default:
			return forgeTarget{}, fmt.Errorf("GitOps repository %s: say which forge hosts it with --forge gitea or --forge gitlab (or $%s=gitea|gitlab), and --forge-url if its API is not at the URL's root; forges are not guessed from host names", location, EnvForge)
		}
	}
	if kind == ForgeLocal {
		if spec.URL != "" {
			return forgeTarget{}, fmt.Errorf("--forge-url is for a forge's API: the local forge has none")
		}
		if !localforge.IsLocal(location) {
			return forgeTarget{}, fmt.Errorf("GitOps repository %s: the local forge needs a repository on this machine; for a URL give %s", location, errForgeFlag)
		}
		return forgeTarget{kind: ForgeLocal}, nil
	}
	loc, err := forge.ParseLocation(location)
	if err != nil {
		return forgeTarget{}, fmt.Errorf("GitOps repository for --forge %s: %w", kind, err)
	}
	t := forgeTarget{kind: kind, api: spec.URL, loc: loc}
	switch kind {
	case ForgeGitHub:
		if loc.SubPath() {
			return forgeTarget{}, fmt.Errorf("GitOps repository %s is not https://HOST/OWNER/REPO", location)
		}
		if t.api == "" && !strings.EqualFold(loc.Host, "github.com") {
			return forgeTarget{}, fmt.Errorf("GitOps repository %s is on GitHub Enterprise: give its API with --forge-url https://%s/api/v3/", location, loc.Host)
		}
		if t.api == "" {
			t.api = githubauth.DefaultAPI
		}
	case ForgeGitea:
		if t.api == "" {
			t.api = loc.Base
		}
	case ForgeGitLab:
		if t.api == "" {
			t.api = "https://" + loc.Host
			if u, _ := url.Parse(loc.Base); u != nil && u.Scheme == "http" {
				t.api = "http://" + loc.Host
			}
		}
		project, err := gitlabProject(location, t.api)
		if err != nil {
			return forgeTarget{}, err
		}
		t.project = project
	default:
		return forgeTarget{}, fmt.Errorf("--forge %q: unknown forge; give %s", spec.Kind, errForgeFlag)
	}
	u, err := url.Parse(t.api)
	if err != nil || u.Host == "" || !forge.SafeForCredentials(u) {
		return forgeTarget{}, fmt.Errorf("--forge-url %s: the token goes there, so it must be an https URL (plain http only to 127.0.0.1, ::1 or localhost)", t.api)
	}
	return t, nil
}

// gitAuth is how git reaches the repository: for Gitea its token to its
// host, and $CONVEYOR_GIT_TOKEN to its own host (EnvGitAuth) elsewhere.
func (t forgeTarget) gitAuth() pipeline.GitAuth {
	var own pipeline.GitAuth
	switch t.kind {
	case ForgeGitea:
		own = giteaforge.GitAuth(t.api, envToken(EnvGiteaToken))
	case ForgeGitLab:
		own = gitlabforge.GitAuth(t.api, envToken(EnvGitLabToken))
	default:
		return EnvGitAuth
	}
	return func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
		if a, err := own(ctx, repoURL); a != nil || err != nil {
			return a, err
		}
		return EnvGitAuth(ctx, repoURL)
	}
}

// repository is the name the forge's review events give the repository:
// GitLab's full project path, "owner/name" elsewhere.
func (t forgeTarget) repository() string {
	if t.project != "" {
		return t.project
	}
	return t.loc.Slug()
}

// gitlabProject is the repository's path below the GitLab's web root
// api: every segment, since GitLab nests groups.
func gitlabProject(location, api string) (string, error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", err
	}
	base, err := url.Parse(api)
	if err != nil {
		return "", err
	}
	p := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	root := strings.Trim(strings.TrimSuffix(strings.TrimSuffix(base.Path, "/"), "/api/v4"), "/")
	if root != "" {
		if !strings.HasPrefix(p, root+"/") {
			return "", fmt.Errorf("GitOps repository %s is not under the GitLab at %s", location, api)
		}
		p = strings.TrimPrefix(p, root+"/")
	}
	if strings.Count(p, "/") < 1 {
		return "", fmt.Errorf("GitOps repository %s is not https://HOST/GROUP[/SUBGROUP…]/PROJECT", location)
	}
	return p, nil
}

// envToken reads the variable name on each call; nil when it is unset.
func envToken(name string) func(context.Context) (string, error) {
	if os.Getenv(name) == "" {
		return nil
	}
	return func(context.Context) (string, error) { return os.Getenv(name), nil }
}

// remoteForge is a forge on a server: pull requests, teams, and where the
// promoter reads source history.
type remoteForge struct {
	forge   forge.Forge
	teams   teamChecker
	history history.Repos
}

type teamChecker interface {
	IsTeamMember(ctx context.Context, org, team, user string) (bool, error)
}

// openForge connects to the remote forge t names.
func openForge(t forgeTarget) (remoteForge, error) {
	switch t.kind {
	case ForgeGitHub:
		tokens := githubauth.EnvToken(EnvGitHubToken)
		if tokens == nil {
			return remoteForge{}, fmt.Errorf("the GitOps repository is on GitHub: set %s", EnvGitHubToken)
		}
		// The token goes to the API host only, whatever a response links to.
		client, err := githubauth.NewClient(tokens, t.api, nil)
		if err != nil {
			return remoteForge{}, err
		}
		gh := githubforge.New(client, t.loc.Owner, t.loc.Name)
		return remoteForge{forge: gh, teams: gh, history: SourceHistory()}, nil
	case ForgeGitea:
		token := os.Getenv(EnvGiteaToken)
		if token == "" {
			return remoteForge{}, fmt.Errorf("the GitOps repository is on Gitea: set %s", EnvGiteaToken)
		}
		g := giteaforge.New(t.api, token, t.loc.Owner, t.loc.Name, nil)
		h, err := history.NewGitea(t.api, token, nil)
		if err != nil {
			return remoteForge{}, err
		}
		repos := SourceHistory()
		repos.Gitea = h
		return remoteForge{forge: g, teams: g, history: repos}, nil
	case ForgeGitLab:
		token := os.Getenv(EnvGitLabToken)
		if token == "" {
			return remoteForge{}, fmt.Errorf("the GitOps repository is on GitLab: set %s", EnvGitLabToken)
		}
		client, err := gitlabforge.NewClient(t.api, token, nil)
		if err != nil {
			return remoteForge{}, err
		}
		gl := gitlabforge.New(client, t.project)
		// Sources on GitLab are ordered by the local clone's history.
		return remoteForge{forge: gl, teams: gl, history: SourceHistory()}, nil
	}
	return remoteForge{}, errors.New("opening the forge: " + t.kind + " is not a remote forge")
}

// Check reports whether s can select a forge for the repository at
// location, with the error OpenGitOps would give, so a command can refuse
// before it starts anything.
func (s ForgeSpec) Check(location string) error {
	_, err := selectForge(location, s)
	return err
}
