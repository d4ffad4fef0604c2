package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/metrics"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/poller"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/shared/tracing"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/conveyor-gitops/conveyor/shared/webhook/sqlitecommit"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultAddr and DefaultDataDir are the defaults of `conveyor dev`.
const (
	DefaultAddr    = "127.0.0.1:8080"
	DefaultDataDir = ".conveyor"
)

// Options configure a Runtime.
type Options struct {
	DataDir string
	// Addr is where the ingress listens; "" disables it.
	Addr         string
	GitHubSecret []byte
	// GitLabToken is the secret token GitLab webhooks carry in
	// X-Gitlab-Token; empty refuses every GitLab webhook.
	GitLabToken   string
	RegistryToken string
	MaxBody       int64
	// RegistryAddr is where the embedded OCI registry listens; "" runs
	// none. Its blobs and manifests live under DataDir/registry.
	RegistryAddr string
	// RegistryPassword is required of pushes to the embedded registry when
	// RegistryAddr reaches beyond loopback; one is generated when empty.
	// On loopback pushes need none, and this is ignored.
	RegistryPassword string
	// PollInterval bounds how long an idle mapping waits for messages sent
	// by another process (in-process sends wake it at once).
	PollInterval time.Duration
	// RemoteOptions are added to every registry call (auth, transport,
	// retry policy).
	RemoteOptions []remote.Option
	// Visibility, when set, replaces every queue's visibility timeout: how
	// long a batch may run.
	Visibility time.Duration
	// Lease is how soon a message in flight when the process died is
	// delivered again (DefaultLease): a live batch renews it, so a build
	// of any length keeps its message, and a killed one is taken over
	// within a lease rather than after the queue's whole visibility.
	Lease time.Duration
	// Backoff spaces retries of failed messages (retry.DefaultBackoff when
	// zero); tests of failure handling shorten it.
	Backoff retry.Backoff
	// StallAfter is how long a consumer may go without polling, or leave
	// visible messages unhandled, before /healthz reports it (default
	// DefaultStallAfter).
	StallAfter time.Duration
	Logger     *slog.Logger
	// OTLPEndpoint exports each change's trace over OTLP/HTTP to this
	// base URL (spans at /v1/traces); $OTEL_EXPORTER_OTLP_ENDPOINT when
	// empty; no tracing when both are.
	OTLPEndpoint string
}

// Function is a queue consumer the runtime can run.
type Function struct {
	Name  string
	Queue string
	// Fn handles one message; Decode reads bodies (event.Decode when nil).
	Fn     consume.Func
	Decode consume.Decoder
	// BatchSize defaults to 10.
	BatchSize int
	// Visibility overrides the queue's default visibility timeout.
	Visibility time.Duration
	// Observe sees each decision (consume.Consumer.Observe).
	Observe func(ctx context.Context, o consume.Outcome, took time.Duration)
}

// DefaultLease is Options.Lease's default.
const DefaultLease = 30 * time.Second

func (o Options) lease() time.Duration {
	if o.Lease > 0 {
		return o.Lease
	}
	return DefaultLease
}

// Runtime is an open local runtime.
type Runtime struct {
	opts   Options
	DB     *sqlitedb.DB
	Queues *sqlitequeue.Broker
	State  *sqlitestate.Store
	// Commits is the ingress's group committer: each accepted event and
	// its idempotency keys, batched with concurrent ones into one
	// transaction.
	Commits *sqlitecommit.Committer
	// Ingress is the webhook handler, also usable without a listener.
	Ingress http.Handler

	// Registry is the embedded OCI registry, when RegistryAddr is set.
	Registry *ociregistry.Registry
	// Metrics counts what the runtime does; Handler serves it at
	// /metrics.
	Metrics *metrics.Registry
	// Tracer exports spans when Options.OTLPEndpoint is set; nil
	// otherwise.
	Tracer *tracing.Tracer

	// passwordGenerated says the registry's push password was generated
	// here, so the operator must be told it.
	passwordGenerated bool

	mu        sync.Mutex
	functions []Function
	board     http.Handler
	// pipeline is the conveyor.yaml the consumers were built with, for
	// the DORA gauges.
	pipeline    ConfigSource
	listener    net.Listener
	regListener net.Listener

	lock   *DirLock
	health health
}

// Open opens the data directory and builds the ingress.
func Open(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.DataDir == "" {
		opts.DataDir = DefaultDataDir
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	tightened, err := sqlitedb.Restrict(opts.DataDir, "registry", LockName)
	if err != nil {
		return nil, err
	}
	if len(tightened) > 0 {
		opts.Logger.WarnContext(ctx, "data directory was readable by other users: restricted it to its owner",
			"data_dir", opts.DataDir, "paths", len(tightened), "first", tightened[0])
	}
	// A runtime that serves owns the data directory; CLI commands that
	// only read and record (status, pr, promote) share it.
	var lock *DirLock
	if opts.Addr != "" || opts.RegistryAddr != "" {
		if lock, err = LockDataDir(opts.DataDir); err != nil {
			return nil, err
		}
	}
	opened := false
	defer func() {
		if !opened {
			lock.Close()
		}
	}()
	db, err := sqlitedb.Open(ctx, opts.DataDir)
	if err != nil {
		return nil, err
	}
	if opts.RegistryAddr != "" && opts.RegistryToken == "" {
		// The embedded registry must authenticate to the ingress like any
		// registry; a random token lets it in and keeps others out.
		opts.RegistryToken = event.NewID()
	}
	generated := false
	if opts.RegistryAddr != "" {
		opts.RegistryPassword, generated = registryPassword(opts.RegistryAddr, opts.RegistryPassword)
	}
	r := &Runtime{opts: opts, DB: db, passwordGenerated: generated, lock: lock}
	if r.Queues, err = sqlitequeue.Open(ctx, db, queue.Topology); err != nil {
		db.Close()
		return nil, err
	}
	if r.State, err = sqlitestate.Open(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	qs := webhook.Queues{}
	for name, dst := range map[string]*webhook.Sender{queue.Builds: &qs.Builds, queue.Images: &qs.Images, queue.Approvals: &qs.Approvals} {
		q, err := r.Queues.Queue(name)
		if err != nil {
			db.Close()
			return nil, err
		}
		*dst = q
	}
	if r.Commits, err = sqlitecommit.New(ctx, db, r.Queues, r.State); err != nil {
		db.Close()
		return nil, err
	}
	r.Ingress, err = webhook.New(webhook.Config{
		GitHubSecret: opts.GitHubSecret, GitLabToken: opts.GitLabToken, RegistryToken: opts.RegistryToken, MaxBody: opts.MaxBody,
		Committer: r.Commits, Logger: opts.Logger.With("function", "webhook"),
	}, qs, r.State)
	if err != nil {
		r.Commits.Close()
		db.Close()
		return nil, err
	}
	r.Metrics = metrics.New(metrics.Sources{Queues: r.QueueStats, Oldest: r.Queues.OldestAge, Config: r.pipelineConfig,
		Releases: r.State, Log: opts.Logger.With("component", "metrics")})
	if opts.OTLPEndpoint == "" {
		opts.OTLPEndpoint = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if opts.OTLPEndpoint != "" {
		if r.Tracer, err = tracing.New(ctx, opts.OTLPEndpoint); err != nil {
			r.Commits.Close()
			db.Close()
			return nil, err
		}
		r.Ingress = r.Tracer.Ingress(r.Ingress)
	}
	// Every event counts, the embedded registry's too.
	r.Ingress = r.Metrics.Ingress(r.Ingress)
	if opts.RegistryAddr != "" {
		notify := ociregistry.HandlerNotifier(r.Ingress, webhook.PathDistribution, opts.RegistryToken)
		if r.Registry, err = ociregistry.Open(filepath.Join(opts.DataDir, "registry"), notify, opts.Logger.With("component", "registry"),
			ociregistry.WithPushPassword(opts.RegistryPassword),
			ociregistry.WithLostFound(filepath.Join(opts.DataDir, sqlitedb.LostFound))); err != nil {
			r.Commits.Close()
			db.Close()
			return nil, fmt.Errorf("opening the embedded registry: %w; run `conveyor fsck --data-dir %s` for details and `conveyor fsck --repair --data-dir %s` to set the damage aside",
				err, opts.DataDir, opts.DataDir)
		}
	}
	opened = true
	return r, nil
}

// ListenRegistry binds the embedded registry's address and returns it: the
// host part of image names pushed to it.
func (r *Runtime) ListenRegistry() (net.Addr, error) {
	if r.regListener != nil {
		return r.regListener.Addr(), nil
	}
	if r.Registry == nil {
		return nil, errors.New("no embedded registry configured")
	}
	l, err := net.Listen("tcp", r.opts.RegistryAddr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", r.opts.RegistryAddr, err)
	}
	r.regListener = l
	return l.Addr(), nil
}

// Register adds a queue consumer. Registering two functions on one queue is
// an error: each queue has exactly one consumer, as in the AWS template.
func (r *Runtime) Register(fn Function) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.Queues.Queue(fn.Queue); err != nil {
		return fmt.Errorf("registering %s: %w", fn.Name, err)
	}
	for _, f := range r.functions {
		if f.Queue == fn.Queue || f.Name == fn.Name {
			return fmt.Errorf("registering %s: %s already consumes %s", fn.Name, f.Name, f.Queue)
		}
	}
	r.functions = append(r.functions, fn)
	return nil
}

// Functions lists the registered consumers' names.
func (r *Runtime) Functions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, f := range r.functions {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// Listen binds the ingress address, so that ":0" can be resolved before Run.
func (r *Runtime) Listen() (net.Addr, error) {
	if r.listener != nil {
		return r.listener.Addr(), nil
	}
	if r.opts.Addr == "" {
		return nil, errors.New("no ingress address configured")
	}
	l, err := net.Listen("tcp", r.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", r.opts.Addr, err)
	}
	r.listener = l
	return l.Addr(), nil
}

// Run serves the ingress (when an address is set) and runs every
// registered mapping until ctx is done. On shutdown the listener stops
// accepting, requests in progress finish, and every batch already handed to
// a handler completes; unreceived messages stay queued on disk.
func (r *Runtime) Run(ctx context.Context) error {
	if r.lock == nil {
		l, err := LockDataDir(r.opts.DataDir)
		if err != nil {
			return err
		}
		r.lock = l
	}
	// Holding the lock, this process is the only consumer: whatever was
	// received and never settled belongs to one that died.
	if n, err := r.Queues.RecoverAbandoned(ctx); err != nil {
		return err
	} else if n > 0 {
		r.opts.Logger.WarnContext(ctx, "recovered messages a previous process died holding", "messages", n)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	var srv *http.Server
	if r.opts.Addr != "" {
		if _, err := r.Listen(); err != nil {
			return err
		}
		srv = &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.opts.Logger.InfoContext(ctx, "ingress listening", "addr", r.listener.Addr().String())
			if err := srv.Serve(r.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				select {
				case errc <- fmt.Errorf("serving ingress: %w", err):
				default:
				}
			}
		}()
	}
	var servers []*http.Server
	if r.Registry != nil {
		if _, err := r.ListenRegistry(); err != nil {
			return err
		}
		reg := &http.Server{Handler: r.Registry, ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.opts.Logger.InfoContext(ctx, "registry listening", "addr", r.regListener.Addr().String())
			if err := reg.Serve(r.regListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				select {
				case errc <- fmt.Errorf("serving registry: %w", err):
				default:
				}
			}
		}()
		servers = append(servers, reg)
	}
	r.mu.Lock()
	fns := slices.Clone(r.functions)
	r.mu.Unlock()
	for _, fn := range fns {
		q, _ := r.Queues.Queue(fn.Queue)
		spec, _ := queue.Lookup(fn.Queue)
		if r.opts.Visibility > 0 {
			spec.Visibility = r.opts.Visibility
		}
		if fn.Visibility > 0 {
			spec.Visibility = fn.Visibility
		}
		beat := r.health.add(fn.Name, fn.Queue)
		m := &poller.Poller{
			Function: fn.Name, Queue: q, BatchSize: fn.BatchSize, Visibility: spec.Visibility, Lease: r.opts.lease(), PollInterval: r.opts.PollInterval,
			Consumer: consume.Consumer{Fn: beat.wrap(fn.Fn), Decode: fn.Decode, FIFO: q.FIFO(), Policy: poller.Policy(spec.MaxReceives, r.opts.Backoff),
				Log: r.opts.Logger.With("function", fn.Name), Observe: observers(r.Metrics.Observe(fn.Name), r.traceObserver(fn), fn.Observe)},
			Wake:   func() <-chan struct{} { beat.beat(); return r.Queues.Wait(fn.Queue) },
			Logger: r.opts.Logger,
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer beat.set(func(c *consumer) { c.running = false })
			_ = m.Run(ctx)
		}()
		r.opts.Logger.InfoContext(ctx, "function consuming", "function", fn.Name, "queue", fn.Queue)
	}
	r.health.setReady(true)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	r.health.setReady(false)
	if srv != nil {
		servers = append(servers, srv)
	}
	for _, s := range servers {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = s.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	return err
}

// Close closes the registry journal and the database, and releases the
// data directory.
func (r *Runtime) Close() error {
	defer r.lock.Close()
	if r.Registry != nil {
		_ = r.Registry.Close()
	}
	// The events it holds were never acknowledged; committing them is
	// still right, and it must finish before the database closes.
	_ = r.Commits.Close()
	if r.Tracer != nil {
		// Spans still batched are exported, within a bound.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = r.Tracer.Shutdown(ctx)
		cancel()
	}
	return r.DB.Close()
}

// observers calls each non-nil observer in turn.
func observers(fs ...func(context.Context, consume.Outcome, time.Duration)) func(context.Context, consume.Outcome, time.Duration) {
	return func(ctx context.Context, o consume.Outcome, took time.Duration) {
		for _, f := range fs {
			if f != nil {
				f(ctx, o, took)
			}
		}
	}
}

// traceObserver records fn's queue waits and handling as spans, when
// tracing is on.
func (r *Runtime) traceObserver(fn Function) func(context.Context, consume.Outcome, time.Duration) {
	if r.Tracer == nil {
		return nil
	}
	return r.Tracer.Observe(fn.Name, fn.Queue)
}

// pipelineConfig reads the conveyor.yaml the consumers use; nil before
// any was registered.
func (r *Runtime) pipelineConfig(ctx context.Context) (*config.Config, error) {
	r.mu.Lock()
	src := r.pipeline
	r.mu.Unlock()
	if src == nil {
		return nil, nil
	}
	return src.Load(ctx)
}

// QueueStats returns every work queue's counters, keyed by queue name.
func (r *Runtime) QueueStats(ctx context.Context) (map[string]sqlitequeue.Stats, error) {
	return Stats(ctx, r.Queues)
}

// Stats returns every work queue's counters from a broker.
func Stats(ctx context.Context, b *sqlitequeue.Broker) (map[string]QueueStats, error) {
	out := map[string]QueueStats{}
	for _, s := range queue.Topology {
		st, err := b.Stats(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		out[s.Name] = st
	}
	return out, nil
}

// ParseFunctions splits a --functions list and checks every name is known.
func ParseFunctions(list string, known []string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return known, nil
	}
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown function %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// QueueStats are one queue's counters.
type QueueStats = sqlitequeue.Stats

// Consumed lists the queues that registered functions consume.
func (r *Runtime) Consumed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var qs []string
	for _, f := range r.functions {
		qs = append(qs, f.Queue)
	}
	return qs
}

// Logger is the runtime's logger.
func (r *Runtime) Logger() *slog.Logger { return r.opts.Logger }
