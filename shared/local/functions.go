package local

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/approver"
	"github.com/conveyor-gitops/conveyor/shared/builder"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/images"
	"github.com/conveyor-gitops/conveyor/shared/promoter"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-github/v60/github"
)

// ConfigSource returns the pipeline's current conveyor.yaml.
type ConfigSource = config.Loader

// Deps is what a consumer function is built from.
type Deps struct {
	Runtime *Runtime
	Config  ConfigSource
	// GitOps is the repository promotions go to; nil when the runtime has
	// none (promote and approval cannot run then).
	GitOps *GitOps
	Logger *slog.Logger
}

// Constructor builds one consumer function.
type Constructor func(Deps) (Function, error)

// Consumers returns the queue-consuming functions the local runtime can
// run, by name. The webhook ingress is not among them: it is the listener.
func Consumers() map[string]Constructor {
	return map[string]Constructor{
		"build": func(d Deps) (Function, error) {
			b := &builder.Builder{Config: builder.ConfigSource(d.Config), Idem: d.Runtime.State, GitHost: EnvGitHost(), GitAuth: EnvGitAuth, Log: d.Logger,
				Keychain: d.Runtime.RegistryKeychain(), RemoteOptions: d.Runtime.opts.RemoteOptions}
			return Function{Name: "build", Queue: queue.Builds, Fn: b.Func(), BatchSize: 1}, nil
		},
		"registry": func(d Deps) (Function, error) {
			promotions, err := d.Runtime.Queues.Queue(queue.Promotions)
			if err != nil {
				return Function{}, err
			}
			h := &images.Handler{Config: images.ConfigSource(d.Config), Promotions: promotions,
				Traces: images.TraceLookup(d.Runtime.State), Log: d.Logger, RemoteOptions: d.Runtime.opts.RemoteOptions}
			return Function{Name: "registry", Queue: queue.Images, Fn: h.Func(), Decode: images.Decode}, nil
		},
		"promote": func(d Deps) (Function, error) {
			if d.GitOps == nil {
				return Function{}, fmt.Errorf("promote needs a GitOps repository (--gitops)")
			}
			p := &promoter.Promoter{Config: promoter.ConfigSource(d.Config), Releases: d.Runtime.State, Repo: d.GitOps, Forge: d.GitOps.Forge,
				Inspect: func(ctx context.Context, ref string) (*images.Provenance, error) {
					return images.Inspect(ctx, ref, d.Runtime.opts.RemoteOptions...)
				}, Log: d.Logger, Ancestry: SourceHistory()}
			return Function{Name: "promote", Queue: queue.Promotions, Fn: p.Func(), BatchSize: 1}, nil
		},
		"approval": func(d Deps) (Function, error) {
			if d.GitOps == nil {
				return Function{}, fmt.Errorf("approval needs a GitOps repository (--gitops)")
			}
			promotions, err := d.Runtime.Queues.Queue(queue.Promotions)
			if err != nil {
				return Function{}, err
			}
			a := &approver.Approver{Config: approver.ConfigSource(d.Config), Releases: d.Runtime.State, Forge: d.GitOps.Forge, Teams: d.GitOps.Teams,
				Promotions: promotions, Log: d.Logger, Repository: d.GitOps.Repository}
			return Function{Name: "approval", Queue: queue.Approvals, Fn: a.Func()}, nil
		},
	}
}

// FunctionNames lists "webhook" and every consumer, sorted.
func FunctionNames() []string {
	names := []string{"webhook"}
	for n := range Consumers() {
		names = append(names, n)
	}
	sort.Strings(names[1:])
	return names
}

// RegisterAll builds and registers the named consumers (names that are not
// consumers, such as "webhook", are skipped).
func (r *Runtime) RegisterAll(names []string, cfg ConfigSource, g *GitOps, log *slog.Logger) error {
	all := Consumers()
	for _, n := range names {
		c, ok := all[n]
		if !ok {
			continue
		}
		fn, err := c(Deps{Runtime: r, Config: cfg, GitOps: g, Logger: log.With("function", n)})
		if err != nil {
			return fmt.Errorf("starting %s: %w", n, err)
		}
		if err := r.Register(fn); err != nil {
			return err
		}
	}
	return nil
}

// EnvGitAuth authenticates git with $CONVEYOR_GIT_TOKEN (a GitHub token or
// installation token) to the one host it belongs to, EnvGitHost, over
// https only. Any other host, plain http and local repositories get no
// credentials: the token never reaches another server, nor the wire in
// clear.
func EnvGitAuth(_ context.Context, repoURL string) (transport.AuthMethod, error) {
	tok := os.Getenv("CONVEYOR_GIT_TOKEN")
	if tok == "" {
		return nil, nil
	}
	u, err := url.Parse(repoURL)
	if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, EnvGitHost()) {
		return nil, nil
	}
	return &githttp.BasicAuth{Username: "x-access-token", Password: tok}, nil
}

// SourceHistory reads source repositories' history for the promoter: local
// ones with go-git, GitHub ones through api.github.com, with
// $CONVEYOR_GIT_TOKEN when set (sent to the API host only).
func SourceHistory() history.Repos {
	c := github.NewClient(nil)
	if tok := os.Getenv("CONVEYOR_GIT_TOKEN"); tok != "" {
		c = c.WithAuthToken(tok)
	}
	return history.Repos{GitHub: history.NewGitHub(c, "github.com")}
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
