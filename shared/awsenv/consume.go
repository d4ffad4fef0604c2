package awsenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	fg "github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/lambdabatch"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/wiring"
)

// Consume is the main of every queue-consuming function: it loads the
// function's configuration with load, builds its handler from
// wiring.Functions with the Deps of this Lambda environment, and runs it
// under lambdabatch, which applies the retry policy on SQS.
func Consume(function string, load func(lookup func(string) (string, bool)) (Config, error)) {
	Main(function, func(ctx context.Context, log *slog.Logger) (any, error) {
		cfg, err := load(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		return NewConsumer(ctx, function, cfg, log)
	})
}

// NewConsumer builds the Lambda handler of the table's function.
func NewConsumer(ctx context.Context, function string, cfg Config, log *slog.Logger) (lambdabatch.Handler, error) {
	f, ok := wiring.Lookup(function)
	if !ok {
		return nil, fmt.Errorf("starting %s: not in wiring.Functions", function)
	}
	c, err := OpenConsumer(ctx, cfg, log, f.Queue)
	if err != nil {
		return nil, err
	}
	d, err := c.Deps()
	if err != nil {
		return nil, err
	}
	cons, err := f.Consumer(d)
	if err != nil {
		return nil, err
	}
	cons.Policy = lambdabatch.Policy(f.Spec().MaxReceives, f.Spec().FIFO)
	cons.Observe = observers(containerMetrics.Observe(function), traceObserver(function, f.Queue), cons.Observe)
	// Dead letters are recorded in the table for the read-only board; the
	// queue's visibility timeout is the template's, from queue.Topology.
	return lambdabatch.New(c.Queue, cons, lambdabatch.WithDeadLetters(c.State, f.Spec().Visibility)), nil
}

// Deps is what this Lambda environment gives a consumer: DynamoDB state,
// SQS queues, the cached conveyor.yaml, the GitOps repository and the
// forge (GitHub or Gitea) when credentials are configured, ECR and git
// credentials, and EMF metrics on stdout.
func (c *ConsumerDeps) Deps() (wiring.Deps, error) {
	env := c.Env
	d := wiring.Deps{State: c.State, Queue: func(name string) (queue.Sender, error) { return env.Queue(name, nil) },
		GitHost: env.GitHost(), GitAuth: env.GitAuth(), Keychain: env.Keychain(), Metrics: os.Stdout, Logger: env.Log,
		Observer: containerMetrics, Events: containerMetrics, NotifySecret: env.NotifySecret(),
		// PR bodies print `conveyor rollback --stack NAME …` for this stack.
		Selector: promote.StackSelector(os.Getenv("CONVEYOR_STACK"))}
	if p := env.Pipeline(); p != nil {
		d.Config, d.GitOps = p.Config, env.GitOps()
	}
	if !env.HasForge() {
		return d, nil
	}
	f, err := env.Forge()
	if err != nil {
		return wiring.Deps{}, err
	}
	ancestry, err := env.History()
	if err != nil {
		return wiring.Deps{}, err
	}
	d.Forge, d.Teams, d.Repository, d.Ancestry = &fg.Retrying{Forge: f}, f, env.Repository(), ancestry
	return d, nil
}
