package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/wiring"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ConfigSource returns the pipeline's current conveyor.yaml.
type ConfigSource = config.Loader

// FunctionNames lists "webhook" and every consumer of wiring.Functions,
// sorted.
func FunctionNames() []string {
	names := []string{"webhook"}
	for _, f := range wiring.Functions {
		names = append(names, f.Name)
	}
	sort.Strings(names[1:])
	return names
}

// Deps is what the local runtime gives every consumer: its embedded
// state and queues, the GitOps repository and its forge (g may be nil: then
// promote and approval cannot start), and git and registry credentials.
func (r *Runtime) Deps(cfg ConfigSource, g *GitOps, log *slog.Logger) wiring.Deps {
	d := wiring.Deps{Config: cfg, State: r.State, Queue: func(name string) (queue.Sender, error) { return r.Queues.Queue(name) },
		GitHost: EnvGitHost(), GitAuth: EnvGitAuth, Keychain: r.RegistryKeychain(), RemoteOptions: r.opts.RemoteOptions,
		Ancestry: SourceHistory(), Logger: log, Events: r.Metrics, Observer: r.Metrics}
	r.mu.Lock()
	r.pipeline = cfg
	r.mu.Unlock()
	if g != nil {
		// Sources on the GitOps repository's forge get its credentials
		// and its history.
		d.Forge, d.Teams, d.Repository, d.GitOps = g.Forge, g.Teams, g.Repository, g
		d.GitAuth, d.Ancestry = g.Auth, g.Ancestry
	}
	return d
}

// RegisterAll builds the named consumers from wiring.Functions and
// registers them (names that are not consumers, such as "webhook", are
// skipped).
func (r *Runtime) RegisterAll(names []string, cfg ConfigSource, g *GitOps, log *slog.Logger) error {
	for _, n := range names {
		f, ok := wiring.Lookup(n)
		if !ok {
			continue
		}
		c, err := f.Consumer(r.Deps(cfg, g, log.With("function", n)))
		if err != nil {
			if g == nil && errors.Is(err, wiring.ErrMissing) {
				err = fmt.Errorf("%w (start with --gitops)", err)
			}
			return err
		}
		if err := r.Register(Function{Name: f.Name, Queue: f.Queue, Fn: c.Fn, Decode: c.Decode, BatchSize: f.BatchSize, Observe: c.Observe}); err != nil {
			return err
		}
	}
	return nil
}

// EnvGitAuth authenticates git with $CONVEYOR_GIT_TOKEN (a GitHub token or
// installation token) to the one host it belongs to, EnvGitHost, over
// https only (githubauth.GitAuth): any other host, plain http and local
// repositories get no credentials. The variable is read on each call.
func EnvGitAuth(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
	return githubauth.GitAuth(githubauth.EnvToken(envGitToken), EnvGitHost())(ctx, repoURL)
}

// envGitToken holds the token for git and for GitHub's API.
const envGitToken = "CONVEYOR_GIT_TOKEN"

// SourceHistory reads source repositories' history for the promoter: local
// ones with go-git, GitHub ones through api.github.com, with
// $CONVEYOR_GIT_TOKEN when set (sent to the API host only).
func SourceHistory() history.Repos {
	// DefaultAPI is an absolute URL: NewClient cannot fail on it.
	c, _ := githubauth.NewClient(githubauth.EnvToken(envGitToken), githubauth.DefaultAPI, nil)
	return history.Repos{GitHub: history.NewGitHub(c, config.DefaultGitHost)}
}

// EnvGitHost is the git host $CONVEYOR_GIT_TOKEN belongs to and the host
// "owner/name" sources live on: $CONVEYOR_GIT_TOKEN_HOST (host[:port]), or
// github.com.
func EnvGitHost() string {
	if h := os.Getenv("CONVEYOR_GIT_TOKEN_HOST"); h != "" {
		return h
	}
	return config.DefaultGitHost
}
