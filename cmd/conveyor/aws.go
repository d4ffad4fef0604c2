package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// stack is a deployed AWS stack as the CLI reaches it: the SDK's default
// configuration (credential chain, region, AWS_ENDPOINT_URL overrides) and
// the variables its functions run with, resolved by stackLookup.
type stack struct {
	name   string
	aws    aws.Config
	lookup func(string) (string, bool)
	log    *slog.Logger
}

// resolveStack loads the AWS configuration and the stack's variables;
// over holds values given as flags (--gitops, --branch).
func resolveStack(ctx context.Context, name string, over map[string]string, stderr io.Writer) (*stack, error) {
	if promote.StackSelector(name) == "" {
		return nil, fmt.Errorf("%w: %q is not a CloudFormation stack name", errUsage, name)
	}
	a, err := awsenv.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	cf := cloudformation.NewFromConfig(a, func(o *cloudformation.Options) {
		if e := os.Getenv(awsenv.VarEndpoint); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	lookup, err := stackLookup(ctx, cf, name, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return &stack{name: name, aws: a, lookup: withOverrides(lookup, over), log: logging.New(stderr, slog.LevelWarn)}, nil
}

// env opens the functions' environment with the given needs.
func (s *stack) env(needs ...awsenv.Need) (*awsenv.Env, error) {
	cfg, err := awsenv.Load(s.lookup, needs...)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", s.name, err)
	}
	return awsenv.New(s.aws, cfg, s.log), nil
}

// consumers is every work queue with its dead-letter queue.
func consumers() []awsenv.Need {
	var needs []awsenv.Need
	for _, s := range queue.Topology {
		needs = append(needs, awsenv.Consumer(s.Name))
	}
	return needs
}

// openStack opens a session on a deployed stack: its DynamoDB table, its
// conveyor.yaml read from the GitOps repository over HTTPS, and (for
// promote and rollback) its GitHub forge.
func openStack(ctx context.Context, name, gitopsURL, branch string, stderr io.Writer) (*session, error) {
	st, err := resolveStack(ctx, name, map[string]string{awsenv.VarGitOpsRepo: gitopsURL, awsenv.VarGitOpsBranch: branch}, stderr)
	if err != nil {
		return nil, err
	}
	env, err := st.env(awsenv.Table, awsenv.GitOps)
	if err != nil {
		return nil, err
	}
	store, err := env.State()
	if err != nil {
		return nil, err
	}
	keychain := remote.WithAuthFromKeychain(env.Keychain())
	s := &session{
		config: env.Pipeline().Config, state: store, log: st.log, selector: promote.StackSelector(name), close: func() {},
		gitops: env.GitOps(),
		inspect: func(ctx context.Context, ref string) (*registry.Provenance, error) {
			return registry.Inspect(ctx, ref, keychain)
		},
		registryOptions: []remote.Option{keychain},
		lookup:          st.lookup,
	}
	s.openForge = func(context.Context) (forge.Forge, promote.Ancestry, error) {
		// Pull requests need the forge's credentials: the operator's own
		// CONVEYOR_GITHUB_TOKEN (or the App's variables), or
		// CONVEYOR_GITEA_TOKEN when the stack's CONVEYOR_FORGE is gitea.
		genv, err := st.env(awsenv.Forge)
		if err != nil {
			return nil, nil, err
		}
		f, err := genv.Forge()
		if err != nil {
			return nil, nil, err
		}
		h, err := genv.History()
		if err != nil {
			return nil, nil, err
		}
		return &forge.Retrying{Forge: f}, h, nil
	}
	return s, nil
}

// openStackDead opens the stack's dead-letter queues for replay, with
// reasons from its table, as the replay function does.
func openStackDead(ctx context.Context, name string, stderr io.Writer) (replay.Dead, error) {
	st, err := resolveStack(ctx, name, nil, stderr)
	if err != nil {
		return nil, err
	}
	env, err := st.env(append(consumers(), awsenv.Table)...)
	if err != nil {
		return nil, err
	}
	store, err := env.State()
	if err != nil {
		return nil, err
	}
	var pairs []replay.SQSQueues
	for _, s := range queue.Topology {
		src, err := env.Queue(s.Name, store)
		if err != nil {
			return nil, err
		}
		dlq, err := env.DeadLetterQueue(s.Name, store)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, replay.SQSQueues{Source: src, DeadLetter: dlq})
	}
	return replay.NewSQS(pairs, replay.WithMoveTasks(env.SQS()), replay.WithRecords(store))
}
