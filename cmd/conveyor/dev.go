package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/spf13/pflag"
)

// Environment variables the local runtime reads its secrets from.
const (
	envGitHubSecret  = "CONVEYOR_GITHUB_WEBHOOK_SECRET"
	envRegistryToken = "CONVEYOR_REGISTRY_WEBHOOK_TOKEN"
	envGitLabToken   = "CONVEYOR_GITLAB_WEBHOOK_TOKEN"
	// envRegistryPassword is the push password of an embedded registry
	// listening beyond loopback.
	envRegistryPassword = "CONVEYOR_REGISTRY_PASSWORD"
)

func runDev(fs *pflag.FlagSet) runFunc {
	addr := fs.String("addr", local.DefaultAddr, "ingress listen address")
	dataDir := fs.String("data-dir", local.DefaultDataDir, "directory for the queues and state (created if missing)")
	gitopsRepo := fs.String("gitops", "", "GitOps repository (path or URL) whose conveyor.yaml drives the pipeline")
	branch := fs.String("branch", "", "GitOps base branch (default: the repository's HEAD)")
	forgeKind, forgeURL := addForgeFlags(fs)
	configFile := fs.String("config", "", "read conveyor.yaml from this file instead of the GitOps repository (development)")
	functions := fs.String("functions", "", "comma-separated functions to run (default: all: "+strings.Join(local.FunctionNames(), ",")+")")
	secretFile := fs.String("github-secret-file", "", "file holding the GitHub webhook secret (default: $"+envGitHubSecret+")")
	gitlabTokenFile := fs.String("gitlab-token-file", "", "file holding the secret token GitLab webhooks carry in X-Gitlab-Token (default: $"+envGitLabToken+")")
	registryAddr := fs.String("registry-addr", "127.0.0.1:5000", `embedded OCI registry listen address ("" for none); images named <this address>/<repo> are pushed to it; beyond loopback, pushes need user `+ociregistry.PushUser+` and a password`)
	passwordFile := fs.String("registry-password-file", "", "file holding the embedded registry's push password, needed when --registry-addr is not loopback (default: $"+envRegistryPassword+", else generated and printed once)")
	visibility := fs.Duration("visibility", 0, "override every queue's visibility timeout (how long a batch may run); default: each queue's own")
	lease := fs.Duration("lease", local.DefaultLease, "how soon work in flight when the process died is retried (a live batch renews it)")
	tokenFile := fs.String("registry-token-file", "", "file holding the registry webhook bearer token (default: $"+envRegistryToken+")")
	recEvery := fs.Duration("reconcile-every", 3*time.Minute, "how often to reconcile the records and queues with the forge, git and the sources (0: never)")
	recSettle := fs.Duration("reconcile-settle", time.Minute, "leave alone merges, pins and promotions newer than this when reconciling")
	uiAddr := fs.String("ui-addr", "", `serve the pipeline board on this address instead of at / on the ingress's port ("off": no board)`)
	recRate := fs.Int("reconcile-rate", reconcile.DefaultPerMinute, "forge and git requests a minute reconciliation may spend (0: no limit)")
	logLevel := fs.String("log-level", "info", "least severe log lines written: debug, info, warn or error")
	logFormat := fs.String("log-format", "", "log lines as text or json (default: text on a terminal, json otherwise)")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		baseLogger, lerr := devLogger(stderr, *logLevel, *logFormat)
		if lerr != nil {
			return lerr
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		if *gitopsRepo != "" && *configFile != "" {
			return fmt.Errorf("%w: --gitops and --config are exclusive", errUsage)
		}
		forgeSpec := forgeSpecOf(*forgeKind, *forgeURL)
		if *gitopsRepo != "" {
			if err := forgeSpec.Check(*gitopsRepo); err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
		}
		names, err := local.ParseFunctions(*functions, local.FunctionNames())
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		secret, err := secretValue(*secretFile, envGitHubSecret)
		if err != nil {
			return err
		}
		token, err := secretValue(*tokenFile, envRegistryToken)
		if err != nil {
			return err
		}
		gitlabToken, err := secretValue(*gitlabTokenFile, envGitLabToken)
		if err != nil {
			return err
		}
		password, err := secretValue(*passwordFile, envRegistryPassword)
		if err != nil {
			return err
		}
		logger := baseLogger.With("runtime", "local")
		if secret == "" {
			logger.Warn("no GitHub webhook secret: every GitHub webhook will be refused with 401", "env", envGitHubSecret)
		}
		if *gitopsRepo == "" && *configFile == "" {
			// Without a pipeline the consumers have nothing to work from: run
			// the ingress alone, so that events wait in their queues.
			if *functions != "" && !slices.Equal(names, []string{"webhook"}) {
				return fmt.Errorf("%w: functions other than webhook need --gitops REPO or --config FILE", errUsage)
			}
			names = []string{"webhook"}
			logger.Warn("no --gitops or --config: running the ingress alone; events wait in their queues")
		}
		loadConfig := configLoader(*gitopsRepo, *branch, *configFile, local.WithForge(forgeSpec))
		if *gitopsRepo != "" || *configFile != "" {
			cfg, err := loadConfig(ctx)
			if err != nil {
				return err
			}
			logger.Info("pipeline loaded", "apps", len(cfg.Apps))
		}
		opts := local.Options{DataDir: *dataDir, GitHubSecret: []byte(secret), GitLabToken: gitlabToken, RegistryToken: token, RegistryAddr: *registryAddr, RegistryPassword: password, Visibility: *visibility, Lease: *lease, Logger: logger}
		serveIngress := false
		for _, n := range names {
			if n == "webhook" {
				serveIngress = true
			}
		}
		if serveIngress {
			opts.Addr = *addr
		}
		rt, err := local.Open(ctx, opts)
		if err != nil {
			return err
		}
		defer rt.Close()
		var g *local.GitOps
		if *gitopsRepo != "" {
			if g, err = rt.OpenGitOps(ctx, *gitopsRepo, loadConfig, local.WithForge(forgeSpec)); err != nil {
				return err
			}
			if err := saveGitOps(ctx, rt, absLocation(*gitopsRepo), forgeSpec); err != nil {
				return err
			}
		} else {
			// --config alone: nothing to promote into.
			var kept []string
			for _, n := range names {
				if n == "promote" || n == "approval" {
					if *functions != "" {
						return fmt.Errorf("%w: %s needs --gitops REPO", errUsage, n)
					}
					continue
				}
				kept = append(kept, n)
			}
			names = kept
		}
		if err := rt.RegisterAll(names, loadConfig, g, logger); err != nil {
			return err
		}
		if rt.Registry != nil {
			a, err := rt.ListenRegistry()
			if err != nil {
				return listenError(err, "the embedded registry", "--registry-addr")
			}
			fmt.Fprintf(stdout, "conveyor dev: registry on %s\n", a)
			printPushCredentials(stdout, rt)
		}
		var ingress net.Addr
		if serveIngress {
			if ingress, err = rt.Listen(); err != nil {
				return listenError(err, "the ingress", "--addr")
			}
			fmt.Fprintf(stdout, "conveyor dev: ingress on http://%s (data in %s; functions: %s)\n", ingress, *dataDir, strings.Join(names, ","))
			fmt.Fprintf(stdout, "conveyor dev: Prometheus metrics on http://%s%s\n", ingress, local.PathMetrics)
		}
		if *uiAddr != "off" && (*gitopsRepo != "" || *configFile != "") {
			stop, err := startBoard(ctx, "conveyor dev", rt, g, loadConfig, *uiAddr, ingress, stdout, logger)
			if err != nil {
				return listenError(err, "the board", "--ui-addr")
			}
			// Open event streams end before the ingress shuts down.
			go func() { <-ctx.Done(); stop() }()
		}
		if g != nil && *recEvery > 0 {
			log := logger.With("function", "reconcile")
			r, err := newReconciler(rt, g, loadConfig, reconcileOptions{perMinute: *recRate, settle: *recSettle}, log)
			if err != nil {
				return err
			}
			rctx, stop := context.WithCancel(ctx)
			// The last pass ends before the runtime closes its database.
			defer reconcileEvery(rctx, r, *recEvery, log)()
			defer stop()
		}
		return rt.Run(ctx)
	}
}

// secretValue reads a secret from a file when one is named, else from the
// environment. Trailing newlines in files are not part of the secret.
func secretValue(file, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// configLoader returns how the pipeline's conveyor.yaml is read: from a file
// during development, otherwise from the GitOps repository's branch tip.
func configLoader(repo, branch, file string, opts ...local.GitOpsOption) func(context.Context) (*config.Config, error) {
	fromRepo := local.PipelineSource(repo, branch, opts...)
	return func(ctx context.Context) (*config.Config, error) {
		switch {
		case file != "":
			return config.Load(file)
		case repo != "":
			return fromRepo(ctx)
		}
		return nil, fmt.Errorf("no pipeline: start with --gitops REPO or --config FILE")
	}
}

// absLocation makes a local path absolute, so commands run elsewhere find it.
func absLocation(l string) string {
	if strings.Contains(l, "://") {
		return l
	}
	if abs, err := filepath.Abs(l); err == nil {
		return abs
	}
	return l
}

// printPushCredentials tells the operator, once at start and never in the
// log, what pushes to a registry reachable from other machines present.
func printPushCredentials(stdout io.Writer, rt *local.Runtime) {
	switch pw, generated := rt.RegistryPassword(); {
	case pw == "":
	case generated:
		fmt.Fprintf(stdout, "conveyor dev: registry pushes need user %s, password %s (generated for this run; set $%s to choose one)\n",
			ociregistry.PushUser, pw, envRegistryPassword)
	default:
		fmt.Fprintf(stdout, "conveyor dev: registry pushes need user %s and the password given\n", ociregistry.PushUser)
	}
}

// devLogger builds the runtime's logger: text for a person at a terminal,
// JSON for a log collector, unless format says which.
func devLogger(stderr io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, level)
	}
	if format == "" {
		format = "json"
		if isTerminal(stderr) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return logging.NewText(stderr, l), nil
	case "json":
		return logging.New(stderr, l), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want text or json", errUsage, format)
}

// listenError names the listener and the flag that moves it when its
// address is taken.
func listenError(err error, listener, flag string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s cannot listen: %w (another conveyor dev, or another server, holds the port): choose another address with %s", listener, err, flag)
	}
	return fmt.Errorf("starting %s: %w", listener, err)
}
