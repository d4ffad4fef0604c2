package wiring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/approval"
	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Deps is everything a consumer is built from. Each runtime produces one:
// awsenv from the Lambda environment, local from its data directory and
// flags. Fields a function does not need may be zero; one it needs and
// lacks is a start-up error naming it.
type Deps struct {
	// Config is the pipeline's conveyor.yaml, through one cache.
	Config config.Loader
	State  state.Store
	// Queue returns a queue the function sends to, by name.
	Queue func(name string) (queue.Sender, error)
	// Forge hosts the GitOps repository's pull requests, already
	// decorated with retries; Teams answers "org/team" reviewers;
	// Repository is its name there ("owner/name").
	Forge      forge.Forge
	Teams      approval.TeamChecker
	Repository string
	// GitOps proposes promotions in the GitOps repository.
	GitOps promote.Repo
	// GitHost is where "owner/name" sources live; GitAuth gives git
	// credentials for a repository URL (nil: none).
	GitHost string
	GitAuth func(ctx context.Context, repoURL string) (transport.AuthMethod, error)
	// Keychain authenticates to registries; RemoteOptions are added to
	// every registry call after it (transport, retries, auth overrides).
	Keychain      authn.Keychain
	RemoteOptions []remote.Option
	// Ancestry reads source history to order releases.
	Ancestry promote.Ancestry
	// Selector names the deployment in the commands PR bodies print
	// (`--stack NAME` on AWS; "" locally).
	Selector string
	// Attest are the attestation settings (builder id, signing and
	// verifying keys); nil reads them from the environment
	// (attest.SettingsFromEnv), the same in Lambda and locally.
	Attest *attest.Settings
	// Metrics receives production releases' EMF lines (nil: none).
	Metrics io.Writer
	Logger  *slog.Logger
	// Events also hears every notification event, whether or not the
	// pipeline has receivers (the local runtime's metrics); nil: none.
	Events notify.Notifier
	// Observer, when set, counts forge and registry calls and builds
	// (the runtime's metrics).
	Observer Observer
	// Lookup reads the environment variables notification receivers name
	// (os.LookupEnv when nil).
	Lookup func(string) (string, bool)
	// NotifySecret, when set, reads those names from a secret store
	// instead (Secrets Manager on AWS; see notify.Deliverer.Secret).
	NotifySecret func(ctx context.Context, name string) (string, error)
}

// Observer counts what handlers do on the wire and in builds;
// *metrics.Registry is one.
type Observer interface {
	forge.Observer
	build.Observer
	// RegistryTransport wraps the transport of registry calls.
	RegistryTransport(next http.RoundTripper) http.RoundTripper
}

// Function is one queue consumer.
type Function struct {
	// Name is the function's directory under functions/ and its name in
	// the local runtime's --functions.
	Name  string
	Queue string
	// BatchSize is the most messages per invocation.
	BatchSize int
	// Timeout is the Lambda function's timeout; the queue's visibility is
	// at least six times it, as AWS advises.
	Timeout time.Duration
	// Decode reads the queue's bodies (event.Decode when nil).
	Decode consume.Decoder
	// New builds the message function.
	New func(Deps) (consume.Func, error)
}

// Spec is the function's queue in the topology: its FIFO-ness, visibility
// timeout and max receives.
func (f Function) Spec() queue.Spec {
	s, _ := queue.Lookup(f.Queue)
	return s
}

// Consumer is the function's message function with the queue's decoder
// and log, for an executor; the executor sets the policy.
func (f Function) Consumer(d Deps) (consume.Consumer, error) {
	fn, err := f.New(d)
	if err != nil {
		return consume.Consumer{}, fmt.Errorf("starting %s: %w", f.Name, err)
	}
	if o := d.Observer; o != nil {
		// Forge clients are built by each runtime; the context tells
		// their instrumented transports whom to report to.
		inner := fn
		fn = func(ctx context.Context, env *event.Envelope) error { return inner(forge.WithObserver(ctx, o), env) }
	}
	c := consume.Consumer{Fn: fn, Decode: f.Decode, FIFO: f.Spec().FIFO, Log: d.Logger}
	if n := d.notifier(); n != nil {
		c.Observe = notify.DeadLetters(n, f.Queue, d.Selector)
	}
	return c, nil
}

// ErrMissing means Deps lacks what a function needs.
var ErrMissing = errors.New("missing dependency")

// Functions is the table, in pipeline order.
var Functions = []Function{
	{Name: "build", Queue: queue.Builds, BatchSize: 1, Timeout: 10 * time.Minute, New: newBuild},
	{Name: "registry", Queue: queue.Images, BatchSize: 10, Timeout: time.Minute, Decode: registry.Decode, New: newRegistry},
	{Name: "promote", Queue: queue.Promotions, BatchSize: 1, Timeout: 2 * time.Minute, New: newPromote},
	{Name: "approval", Queue: queue.Approvals, BatchSize: 10, Timeout: time.Minute, New: newApproval},
	{Name: "notify", Queue: queue.Notifications, BatchSize: 10, Timeout: 30 * time.Second, New: newNotify},
}

// Lookup returns the table's function name.
func Lookup(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

func newBuild(d Deps) (consume.Func, error) {
	if d.Config == nil || d.State == nil {
		return nil, fmt.Errorf("%w: build needs the pipeline and the state store", ErrMissing)
	}
	as, err := d.attestSettings()
	if err != nil {
		return nil, err
	}
	b := &build.Builder{Config: d.Config, Idem: d.State, GitHost: d.GitHost, GitAuth: d.GitAuth,
		Keychain: d.Keychain, RemoteOptions: d.remoteOptions(), Log: d.Logger, Latest: d.State,
		BuilderID: as.BuilderID, Signer: as.Signer, Observer: d.Observer}
	return b.Func(), nil
}

func newRegistry(d Deps) (consume.Func, error) {
	promotions, err := sender(d, queue.Promotions)
	if err != nil || d.Config == nil || d.State == nil {
		return nil, fmt.Errorf("%w: registry needs the pipeline, the state store and the promotions queue (%v)", ErrMissing, err)
	}
	h := &registry.Handler{Config: d.Config, Promotions: promotions, Traces: registry.TraceLookup(d.State),
		RemoteOptions: d.registryOptions(), Log: d.Logger}
	return h.Func(), nil
}

func newPromote(d Deps) (consume.Func, error) {
	if d.Config == nil || d.State == nil || d.GitOps == nil || d.Forge == nil {
		return nil, fmt.Errorf("%w: promote needs the pipeline, the state store and a GitOps repository with its forge", ErrMissing)
	}
	opts := d.registryOptions()
	as, err := d.attestSettings()
	if err != nil {
		return nil, err
	}
	verifier := &attest.Verifier{BuilderID: as.BuilderID, PublicKey: as.PublicKey, Options: opts}
	p := &promote.Promoter{Config: d.Config, Releases: d.State, Repo: d.GitOps, Forge: d.Forge, Ancestry: d.Ancestry, Selector: d.Selector, Log: d.Logger,
		Latest: d.State,
		Inspect: func(ctx context.Context, ref string) (*registry.Provenance, error) {
			return registry.Inspect(ctx, ref, opts...)
		},
		Provenance: func(ctx context.Context, ref string) (*attest.Verified, error) {
			d, err := name.NewDigest(ref)
			if err != nil {
				return nil, retry.Permanent(fmt.Errorf("parsing %s: %w", ref, err))
			}
			return verifier.Verify(ctx, d)
		}}
	if n := d.notifier(); n != nil {
		return notify.Promotions(p, n), nil
	}
	return p.Func(), nil
}

func newApproval(d Deps) (consume.Func, error) {
	promotions, err := sender(d, queue.Promotions)
	if err != nil || d.Config == nil || d.State == nil || d.Forge == nil {
		return nil, fmt.Errorf("%w: approval needs the pipeline, the state store, the promotions queue and a forge (%v)", ErrMissing, err)
	}
	var releases state.Releases = d.State
	if n := d.notifier(); n != nil {
		releases = &notify.Releases{Releases: d.State, Notifier: n}
	}
	a := &approval.Approver{Config: d.Config, Releases: releases, Forge: d.Forge, Teams: d.Teams, Promotions: promotions,
		Repository: d.Repository, Metrics: d.Metrics, Log: d.Logger, Protect: protectReleases(d.registryOptions())}
	return a.Func(), nil
}

func newNotify(d Deps) (consume.Func, error) {
	if d.State == nil {
		return nil, fmt.Errorf("%w: notify needs the state store", ErrMissing)
	}
	n := &notify.Deliverer{Idem: d.State, Lookup: d.Lookup, Secret: d.NotifySecret, Log: d.Logger}
	if c, ok := d.Forge.(forge.Commenter); ok {
		n.Comments = c
	}
	return n.Func(), nil
}

// notifier queues notifications when the runtime has the pipeline and a
// notifications queue, and tells Events; nil when neither applies, and
// nothing is told.
func (d Deps) notifier() notify.Notifier {
	var ns notify.Multi
	if d.Config != nil && d.Queue != nil {
		if q, err := d.Queue(queue.Notifications); err == nil {
			ns = append(ns, &notify.Enqueuer{Config: d.Config, Queue: q, Log: d.Logger})
		}
	}
	if d.Events != nil {
		ns = append(ns, d.Events)
	}
	if len(ns) == 0 {
		return nil
	}
	return ns
}

// sender returns the queue name; the promotions queue announces each
// promotion it carries as its app and environment's newest wanted work,
// so that the promote function skips older ones still queued.
func sender(d Deps, name string) (queue.Sender, error) {
	if d.Queue == nil {
		return nil, fmt.Errorf("no queues")
	}
	q, err := d.Queue(name)
	if err != nil || name != queue.Promotions || d.State == nil || d.Config == nil {
		return q, err
	}
	return &promote.Announcer{Next: q, Config: d.Config, Latest: d.State}, nil
}

// registryOptions authenticates with the keychain, then lets the
// runtime's own options override.
func (d Deps) registryOptions() []remote.Option {
	var opts []remote.Option
	if d.Keychain != nil {
		opts = append(opts, remote.WithAuthFromKeychain(d.Keychain))
	}
	return append(opts, d.remoteOptions()...)
}

// remoteOptions counts registry calls when there is an Observer, then
// adds the runtime's options: a transport of its own replaces the
// counting one.
func (d Deps) remoteOptions() []remote.Option {
	if d.Observer == nil {
		return d.RemoteOptions
	}
	return append([]remote.Option{remote.WithTransport(d.Observer.RegistryTransport(remote.DefaultTransport))}, d.RemoteOptions...)
}

// attestSettings returns Attest, or reads the settings from the
// environment.
func (d Deps) attestSettings() (attest.Settings, error) {
	if d.Attest != nil {
		return *d.Attest, nil
	}
	return attest.SettingsFromEnv(os.LookupEnv)
}

// protectReleases moves an environment's release tags in its image
// repository (see retention).
func protectReleases(opts []remote.Option) func(ctx context.Context, image, env string, digests []string) error {
	return func(ctx context.Context, image, env string, digests []string) error {
		repo, err := name.NewRepository(image)
		if err != nil {
			return retry.Permanent(fmt.Errorf("image repository %q: %w", image, err))
		}
		return retention.Protect(ctx, repo, env, digests, opts...)
	}
}
