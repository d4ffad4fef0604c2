package awsenv

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/pipeline"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
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
	e.secrets = NewSecrets(secretsmanager.NewFromConfig(a, func(o *secretsmanager.Options) { e.endpoint(&o.BaseEndpoint) }), cfg.SecretsTTL)
	switch g := cfg.GitHub; {
	case g.App():
		e.github = githubauth.NewApp(g.AppID, g.InstallationID, e.appKey, githubauth.WithAPI(g.API))
	case g.Token.Set():
		e.github = secretToken{e.secrets, g.Token}
	}
	return e
}

// endpoint applies the override to one service's BaseEndpoint.
func (e *Env) endpoint(base **string) {
	if e.Config.Endpoint != "" {
		*base = aws.String(e.Config.Endpoint)
	}
}

func (e *Env) clients() {
	e.once.Do(func() {
		e.sqs = sqs.NewFromConfig(e.AWS, func(o *sqs.Options) { e.endpoint(&o.BaseEndpoint) })
		e.dynamo = dynamodb.NewFromConfig(e.AWS, func(o *dynamodb.Options) { e.endpoint(&o.BaseEndpoint) })
		e.ecr = NewECRKeychain(ecr.NewFromConfig(e.AWS, func(o *ecr.Options) { e.endpoint(&o.BaseEndpoint) }))
		if g := e.Config.GitOps; g.Repo != "" {
			e.pipeline = pipeline.NewCache(g.Repo, g.Branch, e.GitAuth(), pipeline.WithMaxAge(g.ConfigTTL))
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

// GitAuth returns the credentials function for git over HTTPS: the GitHub
// token for the GitHub host, nothing elsewhere or without credentials.
func (e *Env) GitAuth() pipeline.GitAuth {
	return githubauth.GitAuth(e.github, e.GitHost())
}

// Pipeline returns the cache of conveyor.yaml, or nil when no GitOps
// repository is configured.
func (e *Env) Pipeline() *pipeline.Cache {
	e.clients()
	return e.pipeline
}

// GitOps returns the GitOps repository as conveyor.yaml describes it.
func (e *Env) GitOps() *pipeline.GitOps {
	return &pipeline.GitOps{URL: e.Config.GitOps.Repo, Config: e.Pipeline().Config, Auth: e.GitAuth()}
}

// Forge returns the GitHub forge of the GitOps repository.
func (e *Env) Forge() (*githubforge.Forge, error) {
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

// History returns the source history of repositories on the GitHub host
// the API serves, read with the same credentials as the forge.
func (e *Env) History() (*history.GitHub, error) {
	if e.github == nil {
		return nil, fmt.Errorf("opening the source history: GitHub credentials %w", ErrNotConfigured)
	}
	c, err := githubauth.NewClient(e.github, e.Config.GitHub.API, nil)
	if err != nil {
		return nil, err
	}
	return history.NewGitHub(c, e.GitHost()), nil
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
