package awsenv

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Environment variables read by Load. Queue URLs are per queue:
// CONVEYOR_<QUEUE>_QUEUE_URL and CONVEYOR_<QUEUE>_DLQ_URL (see QueueVar).
const (
	VarEndpoint         = "CONVEYOR_AWS_ENDPOINT"
	VarTable            = "CONVEYOR_TABLE"
	VarWebhookSecret    = "CONVEYOR_GITHUB_WEBHOOK_SECRET"
	VarRegistryToken    = "CONVEYOR_REGISTRY_WEBHOOK_TOKEN"
	VarMaxBody          = "CONVEYOR_MAX_BODY"
	VarSecretsTTL       = "CONVEYOR_SECRETS_TTL"
	VarGitOpsRepo       = "CONVEYOR_GITOPS_REPO"
	VarGitOpsBranch     = "CONVEYOR_GITOPS_BRANCH"
	VarConfigTTL        = "CONVEYOR_CONFIG_TTL"
	VarGitHubAPI        = "CONVEYOR_GITHUB_API_URL"
	VarGitHubRepository = "CONVEYOR_GITHUB_REPOSITORY"
	VarGitHubAppID      = "CONVEYOR_GITHUB_APP_ID"
	VarGitHubInstallID  = "CONVEYOR_GITHUB_INSTALLATION_ID"
	VarGitHubAppKey     = "CONVEYOR_GITHUB_APP_KEY"
	VarGitHubToken      = "CONVEYOR_GITHUB_TOKEN"
	VarForge            = "CONVEYOR_FORGE"
	VarForgeURL         = "CONVEYOR_FORGE_URL"
	VarGiteaToken       = "CONVEYOR_GITEA_TOKEN"
	VarGitLabToken      = "CONVEYOR_GITLAB_TOKEN"
	// VarGitLabWebhookToken is the secret token GitLab webhooks carry in
	// X-Gitlab-Token; unset, the ingress refuses every GitLab webhook.
	VarGitLabWebhookToken = "CONVEYOR_GITLAB_WEBHOOK_TOKEN"
	arnSuffix             = "_ARN"
	defaultGitOpsBranch   = "main"
	defaultConfigTTL      = 30 * time.Second
	defaultSecretsTTL     = 15 * time.Minute
	defaultGitHubAPI      = githubauth.DefaultAPI
	defaultWebhookLimit   = 1 << 20
	maxWebhookBodyLambda  = 6 << 20 // a synchronous invoke carries at most 6 MB
)

// QueueVar returns the variable holding a queue's URL, or its dead-letter
// queue's URL when dlq is set: QueueVar("builds", false) is
// CONVEYOR_BUILDS_QUEUE_URL.
func QueueVar(name string, dlq bool) string {
	kind := "QUEUE"
	if dlq {
		kind = "DLQ"
	}
	return "CONVEYOR_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + kind + "_URL"
}

// Config is a function's configuration. Load fills only the parts the
// function asks for; the rest stay zero.
type Config struct {
	// Endpoint replaces every AWS service endpoint when set (emulators,
	// LocalStack); empty in production.
	Endpoint string
	// Table is the DynamoDB state table.
	Table string
	// Queues are the queues the function uses, by name (queue.Builds…).
	Queues map[string]QueueURLs
	// WebhookSecret verifies GitHub's X-Hub-Signature-256.
	WebhookSecret Secret
	// GitLabWebhookToken is the secret token GitLab webhooks carry in
	// X-Gitlab-Token (optional: unset refuses every GitLab webhook).
	GitLabWebhookToken Secret
	// RegistryToken is the bearer token registries present.
	RegistryToken Secret
	// MaxBody bounds a webhook body.
	MaxBody int64
	// SecretsTTL is how long a fetched secret is reused (default 15 min).
	SecretsTTL time.Duration
	GitOps     GitOpsConfig
	// Forge says which forge hosts the GitOps repository; GitHub holds
	// GitHub's credentials, for its pull requests when Forge.Kind is
	// ForgeGitHub and for sources on GitHub either way.
	Forge  ForgeConfig
	GitHub GitHubConfig
	// NotifySecrets holds the notification receivers' secrets (optional:
	// unset, they are read from the environment).
	NotifySecrets Secret
}

// Forge kinds CONVEYOR_FORGE accepts.
const (
	ForgeGitHub = "github"
	ForgeGitea  = "gitea"
	ForgeGitLab = "gitlab"
)

// ForgeConfig selects the GitOps repository's forge by configuration,
// never by its host name.
type ForgeConfig struct {
	// Kind is ForgeGitHub (the default) or ForgeGitea.
	Kind string
	// URL is a Gitea's web root, its API under /api/v1 (default: the
	// GitOps URL's scheme, host and sub-path). GitHub's API is
	// GitHubConfig.API.
	URL string
	// GiteaToken authenticates to Gitea's API and to git on its host.
	GiteaToken Secret
	// GitLabToken authenticates to GitLab's API and to git on its host.
	GitLabToken Secret
	// Owner and Repo name the GitOps repository on a Gitea (on GitHub
	// they are GitHubConfig's).
	Owner, Repo string
	// Project is the repository's full path on GitLab, which nests
	// groups ("acme/platform/gitops").
	Project string
}

// QueueURLs locate one queue and, for a consumer, its dead-letter queue.
type QueueURLs struct {
	URL        string
	DeadLetter string
}

// GitOpsConfig locates the GitOps repository that holds conveyor.yaml.
type GitOpsConfig struct {
	// Repo is an https URL in production (a local path in tests).
	Repo string
	// Branch holds conveyor.yaml (default "main").
	Branch string
	// ConfigTTL is how long a parsed conveyor.yaml is reused without
	// checking the branch's tip (default 30 s); after it, the file is
	// fetched and parsed again only if the tip moved.
	ConfigTTL time.Duration
}

// GitHubConfig is how the function authenticates to GitHub: as a GitHub
// App installation, or (local runs and tests only) with a plain token.
type GitHubConfig struct {
	// API is the REST API base URL, ending in "/" (default
	// https://api.github.com/; https://HOST/api/v3/ for GitHub Enterprise).
	API            string
	AppID          int64
	InstallationID int64
	AppKey         Secret
	// Token is a plain token used instead of the App (not for production).
	Token Secret
	// Owner and Repo name the GitOps repository on GitHub, from
	// CONVEYOR_GITHUB_REPOSITORY or the GitOps repository's URL.
	Owner, Repo string
}

// App reports whether GitHub App authentication is configured.
func (g GitHubConfig) App() bool { return g.AppID != 0 }

// Configured reports whether any GitHub authentication is configured.
func (g GitHubConfig) Configured() bool { return g.App() || g.Token.Set() }

// Need adds the variables one concern requires to Load.
type Need func(r *reader, c *Config)

// Load reads the configuration the needs describe through lookup (usually
// os.LookupEnv). Its error names every missing or invalid variable at once.
func Load(lookup func(string) (string, bool), needs ...Need) (Config, error) {
	r := &reader{lookup: lookup}
	c := Config{Queues: map[string]QueueURLs{}}
	c.Endpoint = r.url(VarEndpoint, false)
	c.SecretsTTL = r.duration(VarSecretsTTL, defaultSecretsTTL)
	for _, n := range needs {
		n(r, &c)
	}
	if err := r.err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// FromEnv is Load over the process environment.
func FromEnv(needs ...Need) (Config, error) { return Load(os.LookupEnv, needs...) }

// Table needs the DynamoDB table (CONVEYOR_TABLE).
func Table(r *reader, c *Config) {
	c.Table = r.required(VarTable)
	if c.Table != "" && len(c.Table) < 3 {
		r.invalid(VarTable, "a table name has at least 3 characters")
	}
}

// Sender needs the URL of a queue the function sends to.
func Sender(name string) Need {
	return func(r *reader, c *Config) {
		u := c.Queues[name]
		u.URL = r.url(QueueVar(name, false), true)
		c.Queues[name] = u
	}
}

// Notifications accepts the notifications queue's URL: a function with
// it tells receivers what it did (shared/notify); one without stays
// silent rather than failing to start.
func Notifications(r *reader, c *Config) {
	if u := r.url(QueueVar(queue.Notifications, false), false); u != "" {
		q := c.Queues[queue.Notifications]
		q.URL = u
		c.Queues[queue.Notifications] = q
	}
}

// Consumer needs the URLs of the queue the function consumes and of its
// dead-letter queue, where permanent failures are moved.
func Consumer(name string) Need {
	return func(r *reader, c *Config) {
		Sender(name)(r, c)
		u := c.Queues[name]
		u.DeadLetter = r.url(QueueVar(name, true), true)
		c.Queues[name] = u
	}
}

// Webhook needs the webhook secret and registry token, each by ARN or as
// a plain value, and accepts CONVEYOR_MAX_BODY.
func Webhook(r *reader, c *Config) {
	c.WebhookSecret = r.secret(VarWebhookSecret, true)
	c.GitLabWebhookToken = r.secret(VarGitLabWebhookToken, false)
	c.RegistryToken = r.secret(VarRegistryToken, true)
	c.MaxBody = r.int(VarMaxBody, defaultWebhookLimit)
	if c.MaxBody <= 0 || c.MaxBody > maxWebhookBodyLambda {
		r.invalid(VarMaxBody, fmt.Sprintf("must be between 1 and %d bytes", maxWebhookBodyLambda))
	}
}

// GitOps needs the GitOps repository, and accepts its branch, the config
// cache's TTL and GitHub credentials (optional here: a public repository
// needs none).
func GitOps(r *reader, c *Config) {
	c.GitOps.Repo = r.required(VarGitOpsRepo)
	c.GitOps.Branch = r.optional(VarGitOpsBranch, defaultGitOpsBranch)
	c.GitOps.ConfigTTL = r.duration(VarConfigTTL, defaultConfigTTL)
	r.forge(c, false)
}

// Forge needs the GitOps repository and the credentials of its forge
// (CONVEYOR_FORGE: github by default, or gitea), for functions that open,
// merge or list pull requests.
func Forge(r *reader, c *Config) {
	GitOps(r, c)
	r.forge(c, true)
}

// forge reads the forge CONVEYOR_FORGE selects, its credentials required
// when required is set. Adding a forge is one case here and one in
// Env.Forge.
func (r *reader) forge(c *Config, required bool) {
	c.Forge = ForgeConfig{Kind: strings.ToLower(r.optional(VarForge, ForgeGitHub))}
	switch c.Forge.Kind {
	case ForgeGitHub:
		if r.get(VarForgeURL) != "" {
			r.invalid(VarForgeURL, "is for a self-hosted forge: GitHub's API is "+VarGitHubAPI)
		}
		c.GitHub = r.github(c.GitOps.Repo, required)
	case ForgeGitea:
		c.Forge = r.gitea(c.GitOps.Repo, required)
		// GitHub credentials stay optional: sources may live on GitHub.
		c.GitHub = r.github(c.GitOps.Repo, false)
	case ForgeGitLab:
		c.Forge = r.gitlab(c.GitOps.Repo, required)
		c.GitHub = r.github(c.GitOps.Repo, false)
	default:
		r.invalid(VarForge, "is not "+ForgeGitHub+", "+ForgeGitea+" or "+ForgeGitLab)
	}
}

// gitlab reads a GitLab's location and token: the GitOps repository's URL
// below the GitLab's web root (CONVEYOR_FORGE_URL, default its scheme and
// host) is the project's path.
func (r *reader) gitlab(repoURL string, required bool) ForgeConfig {
	f := ForgeConfig{Kind: ForgeGitLab, GitLabToken: r.secret(VarGitLabToken, required)}
	u, err := url.Parse(repoURL)
	if repoURL == "" {
		return f
	}
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		r.invalid(VarGitOpsRepo, "is not an https://HOST/GROUP[/SUBGROUP…]/PROJECT URL, which "+VarForge+"=gitlab needs")
		return f
	}
	f.URL = u.Scheme + "://" + u.Host
	if v := r.get(VarForgeURL); v != "" {
		r.url(VarForgeURL, false)
		f.URL = strings.TrimRight(v, "/")
	}
	base, err := url.Parse(f.URL)
	if err != nil || !forge.SafeForCredentials(base) {
		r.invalid(VarForgeURL, "must be https (plain http only to 127.0.0.1, ::1 or localhost): the GitLab token goes there")
		return f
	}
	root := strings.Trim(strings.TrimSuffix(strings.TrimSuffix(base.Path, "/"), "/api/v4"), "/")
	p := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if root != "" && !strings.HasPrefix(p, root+"/") {
		r.invalid(VarGitOpsRepo, "is not under the GitLab at "+f.URL)
		return f
	}
	f.Project = strings.TrimPrefix(p, root+"/")
	if root == "" {
		f.Project = p
	}
	if !strings.Contains(f.Project, "/") {
		r.invalid(VarGitOpsRepo, "is not an https://HOST/GROUP[/SUBGROUP…]/PROJECT URL, which "+VarForge+"=gitlab needs")
	}
	return f
}

// gitea reads a Gitea's location and token; the GitOps repository's URL
// names the repository on it.
func (r *reader) gitea(repoURL string, required bool) ForgeConfig {
	f := ForgeConfig{Kind: ForgeGitea, GiteaToken: r.secret(VarGiteaToken, required)}
	loc, err := forge.ParseLocation(repoURL)
	if err != nil && repoURL != "" {
		r.invalid(VarGitOpsRepo, "is not an https://HOST[/SUB-PATH]/OWNER/REPO URL, which "+VarForge+"=gitea needs")
	}
	f.Owner, f.Repo, f.URL = loc.Owner, loc.Name, loc.Base
	if v := r.get(VarForgeURL); v != "" {
		r.url(VarForgeURL, false)
		f.URL = strings.TrimRight(v, "/")
	}
	if u, err := url.Parse(f.URL); f.URL != "" && (err != nil || !forge.SafeForCredentials(u)) {
		name := VarForgeURL
		if r.get(VarForgeURL) == "" {
			name = VarGitOpsRepo
		}
		r.invalid(name, "must be https (plain http only to 127.0.0.1, ::1 or localhost): the Gitea token goes there")
	}
	return f
}

// reader collects problems while reading variables.
type reader struct {
	lookup   func(string) (string, bool)
	problems map[string]string
}

// ConfigError lists every variable that is missing or invalid.
type ConfigError struct {
	// Problems maps a variable to what is wrong with it.
	Problems map[string]string
}

func (e *ConfigError) Error() string {
	names := make([]string, 0, len(e.Problems))
	for n := range e.Problems {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + e.Problems[n]
	}
	return "loading configuration: " + strings.Join(parts, "; ")
}

func (r *reader) err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: r.problems}
}

// invalid records a problem; the message never quotes a value, which may
// be a secret.
func (r *reader) invalid(name, problem string) {
	if r.problems == nil {
		r.problems = map[string]string{}
	}
	if _, ok := r.problems[name]; !ok {
		r.problems[name] = problem
	}
}

func (r *reader) get(name string) string {
	v, _ := r.lookup(name)
	return strings.TrimSpace(v)
}

func (r *reader) required(name string) string {
	v := r.get(name)
	if v == "" {
		r.invalid(name, "is not set")
	}
	return v
}

func (r *reader) optional(name, def string) string {
	if v := r.get(name); v != "" {
		return v
	}
	return def
}

func (r *reader) url(name string, required bool) string {
	v := r.get(name)
	if v == "" {
		if required {
			r.invalid(name, "is not set")
		}
		return ""
	}
	if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		r.invalid(name, "is not an absolute http(s) URL")
	}
	return v
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.invalid(name, "is not a non-negative duration such as 30s")
		return def
	}
	return d
}

func (r *reader) int(name string, def int64) int64 {
	v := r.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.invalid(name, "is not an integer")
		return def
	}
	return n
}

// secret reads NAME_ARN or NAME: exactly one of them when required, at
// most one otherwise.
func (r *reader) secret(name string, required bool) Secret {
	arn, plain := r.get(name+arnSuffix), r.get(name)
	switch {
	case arn != "" && plain != "":
		r.invalid(name, "and "+name+arnSuffix+" are both set: keep one")
	case arn != "":
		if !strings.HasPrefix(arn, "arn:") {
			r.invalid(name+arnSuffix, "is not an ARN")
		}
		return Secret{Name: name, ARN: arn}
	case plain != "":
		return Secret{Name: name, value: plain}
	case required:
		r.invalid(name+arnSuffix, "is not set (or "+name+" for local runs)")
	}
	return Secret{Name: name}
}

func (r *reader) github(repoURL string, required bool) GitHubConfig {
	g := GitHubConfig{API: r.optional(VarGitHubAPI, defaultGitHubAPI)}
	if r.get(VarGitHubAPI) != "" {
		r.url(VarGitHubAPI, false)
		if !strings.HasSuffix(g.API, "/") {
			g.API += "/"
		}
	}
	g.Token = r.secret(VarGitHubToken, false)
	appID, install := r.get(VarGitHubAppID), r.get(VarGitHubInstallID)
	key := r.secret(VarGitHubAppKey, false)
	app := appID != "" || install != "" || key.Set()
	switch {
	case app && g.Token.Set():
		r.invalid(VarGitHubToken, "and "+VarGitHubAppID+" are both set: use the GitHub App or the token")
	case app:
		g.AppID = r.positive(VarGitHubAppID)
		g.InstallationID = r.positive(VarGitHubInstallID)
		g.AppKey = r.secret(VarGitHubAppKey, true)
	case required && !g.Token.Set():
		r.invalid(VarGitHubAppID, "is not set: GitHub App credentials ("+VarGitHubAppID+", "+VarGitHubInstallID+", "+
			VarGitHubAppKey+arnSuffix+") are needed to open pull requests")
	}
	if !required {
		return g
	}
	slug := r.get(VarGitHubRepository)
	if slug == "" {
		slug = repoSlug(repoURL)
	}
	owner, name, ok := strings.Cut(slug, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		if r.get(VarGitHubRepository) != "" {
			r.invalid(VarGitHubRepository, "is not OWNER/REPO")
		} else if repoURL != "" {
			r.invalid(VarGitHubRepository, "is not set and "+VarGitOpsRepo+" is not an https://HOST/OWNER/REPO URL")
		}
	}
	g.Owner, g.Repo = owner, name
	return g
}

func (r *reader) positive(name string) int64 {
	v := r.get(name)
	if v == "" {
		r.invalid(name, "is not set")
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		r.invalid(name, "is not a positive integer")
		return 0
	}
	return n
}

// repoSlug returns OWNER/REPO from https://HOST/OWNER/REPO(.git), or "".
func repoSlug(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.Scheme != "https" {
		return ""
	}
	return strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
}

// ErrNotConfigured means an optional part of the configuration a caller
// asked for is absent.
var ErrNotConfigured = errors.New("not configured")
