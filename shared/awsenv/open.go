package awsenv

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/gitlabforge"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/pipeline"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/google/go-containerregistry/pkg/authn"
)

// AWSConfig loads the SDK's default configuration (region, credentials
// from the Lambda environment). The endpoint override, when set, is applied
// per service by Env's clients.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	return cfg, nil
}

// Env is a function's configuration with the clients built from it, once
// per container. Its methods build the adapters handlers take.
type Env struct {
	Config Config
	AWS    aws.Config
	Log    *slog.Logger

	secrets *Secrets
	github  githubauth.TokenSource
	// gitea is the Gitea token when the GitOps repository is on Gitea.
	gitea githubauth.TokenSource
	// gitlab is the GitLab token when the GitOps repository is on GitLab.
	gitlab githubauth.TokenSource

	once     sync.Once
	sqs      *sqs.Client
	dynamo   *dynamodb.Client
	ecr      *ECRKeychain
	pipeline *pipeline.Cache
}

// Open builds the Env of cfg. log receives what adapters log.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Env, error) {
	a, err := AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return New(a, cfg, log), nil
}

// New is Open with an SDK configuration already loaded (tests).
func New(a aws.Config, cfg Config, log *slog.Logger) *Env {
	if log == nil {
		log = slog.Default()
	}
	e := &Env{Config: cfg, AWS: a, Log: log}
	e.secrets = NewSecrets(secretsmanager.NewFromConfig(a, func(o *secretsmanager.Options) { e.options(&o.BaseEndpoint, &o.APIOptions) }), cfg.SecretsTTL)
	switch g := cfg.GitHub; {
	case g.App():
		e.github = githubauth.NewApp(g.AppID, g.InstallationID, e.appKey, githubauth.WithAPI(g.API))
	case g.Token.Set():
		e.github = secretToken{e.secrets, g.Token}
	}
	if f := cfg.Forge; f.Kind == ForgeGitea && f.GiteaToken.Set() {
		e.gitea = secretToken{e.secrets, f.GiteaToken}
	}
	if f := cfg.Forge; f.Kind == ForgeGitLab && f.GitLabToken.Set() {
		e.gitlab = secretToken{e.secrets, f.GitLabToken}
	}
	return e
}

// endpoint applies the override to one service's BaseEndpoint.
func (e *Env) endpoint(base **string) {
	if e.Config.Endpoint != "" {
		*base = aws.String(e.Config.Endpoint)
	}
}

// options applies the endpoint override and counts every request in the
// container's metrics (see countRequests).
func (e *Env) options(base **string, api *[]func(*middleware.Stack) error) {
	e.endpoint(base)
	*api = append(*api, countRequests(containerMetrics))
}

func (e *Env) clients() {
	e.once.Do(func() {
		e.sqs = sqs.NewFromConfig(e.AWS, func(o *sqs.Options) { e.options(&o.BaseEndpoint, &o.APIOptions) })
		e.dynamo = dynamodb.NewFromConfig(e.AWS, func(o *dynamodb.Options) { e.options(&o.BaseEndpoint, &o.APIOptions) })
		e.ecr = NewECRKeychain(ecr.NewFromConfig(e.AWS, func(o *ecr.Options) { e.options(&o.BaseEndpoint, &o.APIOptions) }))
		if g := e.Config.GitOps; g.Repo != "" {
			e.pipeline = pipeline.NewCache(g.Repo, g.Branch, e.GitAuth(), pipeline.WithMaxAge(g.ConfigTTL),
				pipeline.WithObjects(gitops.NewObjectCache()))
		}
	})
}

// Secret returns a secret's value through the container's cache.
func (e *Env) Secret(ctx context.Context, s Secret) ([]byte, error) { return e.secrets.Get(ctx, s) }

// State returns the DynamoDB state store on CONVEYOR_TABLE.
func (e *Env) State() (*dynamostate.Store, error) {
	e.clients()
	return dynamostate.New(e.dynamo, e.Config.Table)
}

// Queue returns the SQS queue name, with its dead-letter queue and the
// reasons store when the function consumes it.
func (e *Env) Queue(name string, reasons sqsqueue.Reasons) (*sqsqueue.Queue, error) {
	e.clients()
	u, ok := e.Config.Queues[name]
	if !ok || u.URL == "" {
		return nil, fmt.Errorf("opening queue %s: %s %w", name, QueueVar(name, false), ErrNotConfigured)
	}
	opts := []sqsqueue.Option{sqsqueue.WithLogger(e.Log)}
	if u.DeadLetter != "" {
		opts = append(opts, sqsqueue.WithDeadLetterQueue(u.DeadLetter))
		if reasons != nil {
			opts = append(opts, sqsqueue.WithReasons(reasons))
		}
	}
	return sqsqueue.New(e.sqs, u.URL, opts...)
}

// DeadLetterQueue returns the dead-letter queue of queue name as a queue
// of its own, for replay; reasons fills LastError of messages SQS moved.
func (e *Env) DeadLetterQueue(name string, reasons sqsqueue.Reasons) (*sqsqueue.Queue, error) {
	e.clients()
	u := e.Config.Queues[name]
	if u.DeadLetter == "" {
		return nil, fmt.Errorf("opening the dead-letter queue of %s: %s %w", name, QueueVar(name, true), ErrNotConfigured)
	}
	opts := []sqsqueue.Option{sqsqueue.WithLogger(e.Log)}
	if reasons != nil {
		opts = append(opts, sqsqueue.WithReasons(reasons))
	}
	return sqsqueue.New(e.sqs, u.DeadLetter, opts...)
}

// SQS returns the SQS client.
func (e *Env) SQS() *sqs.Client {
	e.clients()
	return e.sqs
}

// Keychain returns the registry keychain: ECR tokens, then the default.
func (e *Env) Keychain() authn.Keychain {
	e.clients()
	return Keychain(e.ecr)
}

// GitHubTokens returns the GitHub token source, or nil when no GitHub
// credentials are configured.
func (e *Env) GitHubTokens() githubauth.TokenSource { return e.github }

// GitHost is the GitHub host of the configured API: where "owner/name"
// sources live.
func (e *Env) GitHost() string { return githubauth.GitHost(e.Config.GitHub.API) }

// GitAuth returns the credentials function for git: a Gitea's token for
// its host (over https, or plain http to loopback), the GitHub token for
// the GitHub host over https, nothing elsewhere or without credentials.
func (e *Env) GitAuth() pipeline.GitAuth {
	github := githubauth.GitAuth(e.github, e.GitHost())
	var own pipeline.GitAuth
	switch {
	case e.gitea != nil:
		own = giteaforge.GitAuth(e.Config.Forge.URL, e.gitea.Token)
	case e.gitlab != nil:
		own = gitlabforge.GitAuth(e.Config.Forge.URL, e.gitlab.Token)
	default:
		return github
	}
	return func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
		if a, err := own(ctx, repoURL); a != nil || err != nil {
			return a, err
		}
		return github(ctx, repoURL)
	}
}

// Pipeline returns the cache of conveyor.yaml, or nil when no GitOps
// repository is configured.
func (e *Env) Pipeline() *pipeline.Cache {
	e.clients()
	return e.pipeline
}

// GitOps returns the GitOps repository as conveyor.yaml describes it.
func (e *Env) GitOps() *pipeline.GitOps {
	return &pipeline.GitOps{URL: e.Config.GitOps.Repo, Config: e.Pipeline().Config, Auth: e.GitAuth(), Objects: gitops.NewObjectCache(), Logger: e.Log}
}

// RepoForge is the GitOps repository's forge as the functions use it:
// pull requests, team membership for "org/team" reviewers (approval), and
// merged pull requests (reconcile).
type RepoForge interface {
	forge.Forge
	IsTeamMember(ctx context.Context, org, team, user string) (bool, error)
	ListMerged(ctx context.Context, label string, limit int) ([]*forge.PR, error)
}

var (
	_ RepoForge = (*githubforge.Forge)(nil)
	_ RepoForge = (*giteaforge.Forge)(nil)
	_ RepoForge = (*gitlabforge.Forge)(nil)
)

// HasForge reports whether the forge of the GitOps repository and its
// credentials are configured.
func (e *Env) HasForge() bool {
	switch e.Config.Forge.Kind {
	case ForgeGitea:
		return e.gitea != nil && e.Config.Forge.Owner != ""
	case ForgeGitLab:
		return e.gitlab != nil && e.Config.Forge.Project != ""
	default:
		return e.github != nil && e.Config.GitHub.Owner != ""
	}
}

// Repository is the GitOps repository's name on its forge ("owner/name"):
// review events count only from it.
func (e *Env) Repository() string {
	if e.Config.Forge.Kind == ForgeGitLab {
		return e.Config.Forge.Project
	}
	if e.Config.Forge.Kind == ForgeGitea {
		return e.Config.Forge.Owner + "/" + e.Config.Forge.Repo
	}
	return e.Config.GitHub.Owner + "/" + e.Config.GitHub.Repo
}

// Forge returns the forge of the GitOps repository, as CONVEYOR_FORGE
// selects it. Adding a forge is one case here and one in reader.forge.
func (e *Env) Forge() (RepoForge, error) {
	switch e.Config.Forge.Kind {
	case ForgeGitea:
		f := e.Config.Forge
		if e.gitea == nil {
			return nil, fmt.Errorf("opening the Gitea forge: %s %w", VarGiteaToken, ErrNotConfigured)
		}
		return giteaforge.New(f.URL, "", f.Owner, f.Repo, e.giteaClient()), nil
	case ForgeGitLab:
		f := e.Config.Forge
		if e.gitlab == nil {
			return nil, fmt.Errorf("opening the GitLab forge: %s %w", VarGitLabToken, ErrNotConfigured)
		}
		// The token is read through the secrets cache on each request (a
		// rotated secret is picked up) and sent to the GitLab's host only;
		// the client's own token stays a placeholder.
		c, err := gitlabforge.NewClient(f.URL, "from-transport", &http.Client{Transport: gitlabTransport{tokens: e.gitlab, host: hostOf(f.URL), next: http.DefaultTransport}})
		if err != nil {
			return nil, err
		}
		return gitlabforge.New(c, f.Project, gitlabforge.WithLogger(e.Log)), nil
	default:
		g := e.Config.GitHub
		if e.github == nil {
			return nil, fmt.Errorf("opening the GitHub forge: GitHub credentials %w", ErrNotConfigured)
		}
		c, err := githubauth.NewClient(e.github, g.API, nil)
		if err != nil {
			return nil, err
		}
		return githubforge.New(c, g.Owner, g.Repo, githubforge.WithLogger(e.Log)), nil
	}
}

// giteaClient is the HTTP client of Gitea calls: it sets the token, read
// through the secrets cache on each request (so a rotated secret is picked
// up), on requests to the Gitea's host only.
func (e *Env) giteaClient() *http.Client {
	return &http.Client{Transport: githubauth.Transport(e.gitea, e.Config.Forge.URL, nil)}
}

// gitlabTransport sets GitLab's token as PRIVATE-TOKEN, the header
// GitLab's client would set, in place of the client's placeholder, on
// requests to the GitLab's host only.
type gitlabTransport struct {
	tokens githubauth.TokenSource
	host   string
	next   http.RoundTripper
}

func (t gitlabTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Del("PRIVATE-TOKEN")
	if !strings.EqualFold(r.URL.Host, t.host) {
		return t.next.RoundTrip(r)
	}
	tok, err := t.tokens.Token(r.Context())
	if err != nil {
		return nil, err
	}
	r.Header.Set("PRIVATE-TOKEN", tok)
	return t.next.RoundTrip(r)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// History returns the source history of repositories on the GitHub host
// the API serves, read with the same credentials as the GitHub forge, and,
// when the GitOps repository is on Gitea, of repositories on that Gitea
// through its compare API.
func (e *Env) History() (history.Repos, error) {
	var h history.Repos
	if e.Config.Forge.Kind == ForgeGitea && e.gitea != nil {
		g, err := history.NewGitea(e.Config.Forge.URL, "", e.giteaClient())
		if err != nil {
			return history.Repos{}, err
		}
		h.Gitea = g
	}
	if e.github == nil {
		// Sources on GitLab, and anywhere without an ancestry API, are
		// ordered by build time (history.Repos answers ErrUnsupported).
		if h.Gitea != nil || e.Config.Forge.Kind == ForgeGitLab {
			return h, nil
		}
		return history.Repos{}, fmt.Errorf("opening the source history: GitHub credentials %w", ErrNotConfigured)
	}
	c, err := githubauth.NewClient(e.github, e.Config.GitHub.API, nil)
	if err != nil {
		return history.Repos{}, err
	}
	h.GitHub = history.NewGitHub(c, e.GitHost())
	return h, nil
}

func (e *Env) appKey(ctx context.Context) (*rsa.PrivateKey, error) {
	pem, err := e.secrets.Get(ctx, e.Config.GitHub.AppKey)
	if err != nil {
		return nil, err
	}
	return githubauth.ParseAppKey(pem)
}

// secretToken is a plain token kept as a Secret (so it can come from
// Secrets Manager too).
type secretToken struct {
	s   *Secrets
	sec Secret
}

func (t secretToken) Token(ctx context.Context) (string, error) {
	v, err := t.s.Get(ctx, t.sec)
	return string(v), err
}
