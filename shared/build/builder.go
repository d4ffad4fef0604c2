package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/source"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ConfigSource returns the pipeline's current conveyor.yaml.
type ConfigSource = config.Loader

// Builder builds images for pushes.
type Builder struct {
	Config ConfigSource
	Idem   state.Idempotency
	// GitHost is the host "owner/name" sources live on
	// (config.DefaultGitHost when empty; a GitHub Enterprise host).
	GitHost string
	// GitAuth returns credentials for a source repository (nil: none).
	GitAuth func(ctx context.Context, repoURL string) (transport.AuthMethod, error)
	// Keychain authenticates to registries (authn.DefaultKeychain when nil).
	Keychain      authn.Keychain
	RemoteOptions []remote.Option
	// TempDir holds checkouts while they build (os.TempDir when empty).
	TempDir string
	Log     *slog.Logger
	// Lease is how long a build's claim on a commit lasts unless renewed
	// (DefaultLease). A running build renews it every third of it, so a
	// build killed mid-way is taken over within one lease, not after the
	// retry budget is spent.
	Lease time.Duration
	// DuplicateWait is how long a delivery that finds another build
	// holding the claim waits in place for it to finish or lapse before it
	// defers with retry.Defer (default: one lease).
	DuplicateWait time.Duration
	// Latest holds the newest wanted build of each app's branch: with it,
	// an app with build.latestOnly skips a queued build that a newer push
	// has overtaken (see latest.go). Nil: every push builds.
	Latest state.Latests
	// LatestOnlyWait is how long the first build of a burst waits for
	// newer pushes to reach the consumer (DefaultLatestOnlyWait).
	LatestOnlyWait time.Duration
	// BuilderID names this deployment in the provenance it attaches to
	// every image (attest.DefaultBuilderID when empty); promotions that
	// require provenance check for it.
	BuilderID string
	// Signer, when set, signs the provenance and SBOM (see attest).
	Signer *attest.Signer
	// Observer, when set, hears each finished build (the runtime's
	// metrics).
	Observer Observer
}

// Observer hears how each build ended: result is "pushed", "present" (the
// registry already held the image) or "failed"; pushed is the bytes of the
// image written (0 unless pushed).
type Observer interface {
	BuildFinished(app, result string, took time.Duration, pushed int64)
}

// observe tells the Observer how the build of a ended.
func (b *Builder) observe(a *config.App, res *imagebuild.Result, err error, took time.Duration) {
	if b.Observer == nil {
		return
	}
	switch {
	case err != nil:
		b.Observer.BuildFinished(a.Name, "failed", took, 0)
	case res.Pushed:
		b.Observer.BuildFinished(a.Name, "pushed", took, res.Size)
	default:
		b.Observer.BuildFinished(a.Name, "present", took, 0)
	}
}

// Func returns the builds queue's message function.
func (b *Builder) Func() consume.Func {
	if b.Log == nil {
		b.Log = slog.Default()
	}
	if b.Lease == 0 {
		b.Lease = DefaultLease
	}
	if b.DuplicateWait == 0 {
		b.DuplicateWait = b.Lease
	}
	if b.LatestOnlyWait == 0 {
		b.LatestOnlyWait = DefaultLatestOnlyWait
	}
	return b.handle
}

// Built is the idempotency record of one app's build of one commit.
type Built struct {
	App    string `json:"app"`
	Commit string `json:"commit"`
	Digest string `json:"digest"`
	Ref    string `json:"ref"`
	Tag    string `json:"tag"`
	Pushed bool   `json:"pushed"`
	// Author and Subject are the commit's, read from the clone (never
	// the webhook payload), for pages that cannot read the repository.
	Author  string `json:"author,omitempty"`
	Subject string `json:"subject,omitempty"`
}

func (b *Builder) handle(ctx context.Context, env *event.Envelope) error {
	if err := consume.Expect(env, event.KindPush); err != nil {
		return err
	}
	var p event.Push
	if err := env.DecodePayload(&p); err != nil {
		return retry.Permanent(err)
	}
	log := b.Log.With("repository", p.Repository, "commit", p.After, "ref", p.Ref)
	switch {
	case p.Deleted:
		log.InfoContext(ctx, "branch deleted: nothing to build")
		return nil
	case p.Branch == "":
		log.InfoContext(ctx, "not a branch push: nothing to build")
		return nil
	}
	cfg, err := b.Config.Load(ctx)
	if err != nil {
		return err
	}
	var files []string
	if !p.Truncated {
		files = p.ChangedFiles
	}
	var apps []*config.App
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		// The payload only selects apps; their code comes from the
		// configured source (see build).
		if a.MatchesPush(b.GitHost, config.PushTarget{Repository: p.Repository, CloneURL: p.CloneURL, Branch: p.Branch, ChangedFiles: files}) {
			apps = append(apps, a)
		}
	}
	if len(apps) == 0 {
		log.InfoContext(ctx, "no app builds from this push")
		return nil
	}
	var transient, permanent, deferred []error
	for _, a := range apps {
		if err := b.latestApp(ctx, a, &p, env.ReceivedAt, log.With("app", a.Name)); err != nil {
			_, wait := retry.Deferred(err)
			switch {
			case retry.IsPermanent(err):
				permanent = append(permanent, err)
			case wait:
				deferred = append(deferred, err)
			default:
				transient = append(transient, err)
			}
		}
	}
	switch {
	case len(transient) > 0:
		// Apps already built are skipped on the retry by their records.
		return errors.Join(append(transient, permanent...)...)
	case len(permanent) > 0:
		return retry.Permanent(errors.Join(permanent...))
	case len(deferred) > 0:
		// Apps built or superseded are skipped on the redelivery.
		return deferred[0]
	}
	return nil
}

func (b *Builder) buildApp(ctx context.Context, a *config.App, p *event.Push, log *slog.Logger) error {
	key := Key(a.Name, p.After)
	rec, claimed, err := b.Idem.Claim(ctx, key, b.Lease)
	if err != nil {
		return err
	}
	if !claimed {
		if rec, claimed, err = b.awaitHolder(ctx, key, rec); err != nil {
			return fmt.Errorf("building %s at %.12s: %w", a.Name, p.After, err)
		}
	}
	if !claimed {
		var prev Built
		_ = json.Unmarshal(rec.Result, &prev)
		log.InfoContext(ctx, "already built", "digest", prev.Digest)
		return nil
	}
	bctx, stop := b.heartbeat(ctx, rec, log)
	res, commit, err := b.build(bctx, a, p, log)
	lost := stop()
	if err != nil {
		if lost == nil {
			if rerr := b.Idem.Release(context.WithoutCancel(ctx), key); rerr != nil {
				log.ErrorContext(ctx, "releasing build claim", "error", rerr.Error())
			}
		} else {
			err = lost
		}
		return fmt.Errorf("building %s at %.12s: %w", a.Name, p.After, err)
	}
	crashpoint.Hit(crashpoint.AfterImagePush)
	subject, _, _ := strings.Cut(commit.Message, "\n")
	out, _ := json.Marshal(Built{App: a.Name, Commit: p.After, Digest: res.Digest.String(), Ref: res.Ref, Tag: res.Tag, Pushed: res.Pushed,
		Author: commit.Author, Subject: subject})
	// Even a build that lost its claim records its result: the image is
	// pushed, and a reproducible build of the commit has the same digest.
	if err := b.Idem.Complete(context.WithoutCancel(ctx), key, out, 30*24*time.Hour); err != nil {
		log.ErrorContext(ctx, "recording build", "error", err.Error())
	}
	return nil
}

// recordTrace leaves the build's trace id under "trace/<digest>", where the
// registry function picks it up: the registry's announcement of the digest
// carries none. It runs before the manifest is written, because the
// announcement can arrive before the push call returns. A failure costs
// only the link between the traces, not the build.
func (b *Builder) recordTrace(log *slog.Logger) func(ctx context.Context, digest v1.Hash) error {
	return func(ctx context.Context, digest v1.Hash) error {
		trace := logging.Trace(ctx)
		if trace == "" {
			return nil
		}
		if err := b.Idem.Complete(context.WithoutCancel(ctx), "trace/"+digest.String(), []byte(trace), 30*24*time.Hour); err != nil {
			log.ErrorContext(ctx, "recording build trace", "error", err.Error())
		}
		return nil
	}
}

func (b *Builder) build(ctx context.Context, a *config.App, p *event.Push, log *slog.Logger) (res *imagebuild.Result, commit *source.Commit, err error) {
	start := time.Now()
	defer func() { b.observe(a, res, err, time.Since(start)) }()
	dir, err := os.MkdirTemp(b.TempDir, "conveyor-build-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	// Never the payload's clone_url: a signed push may name any server,
	// which would then supply the code and receive the credentials.
	location := a.Source.Location(b.GitHost)
	var auth transport.AuthMethod
	if b.GitAuth != nil {
		if auth, err = b.GitAuth(ctx, location); err != nil {
			return nil, nil, err
		}
	}
	commit, err = source.Checkout(ctx, location, p.Branch, p.After, dir, auth)
	if err != nil {
		return nil, nil, err
	}
	recipe, err := Recipe(dir, a.Build)
	if err != nil {
		return nil, nil, err
	}
	repo, err := name.NewRepository(a.Image)
	if err != nil {
		return nil, nil, retry.Permanent(fmt.Errorf("image repository %q: %w", a.Image, err))
	}
	// The page link is the payload's only when it names the same repository.
	src := location
	if p.HTMLURL != "" && a.Source.Is(b.GitHost, p.HTMLURL) {
		src = p.HTMLURL
	}
	platforms, err := imagebuild.ParsePlatforms(a.Build.Platforms)
	if err != nil {
		return nil, nil, retry.Permanent(fmt.Errorf("build.platforms of %s: %w", a.Name, err))
	}
	res, err = imagebuild.Build(ctx, imagebuild.Options{
		ContextDir: dir, ContextPath: a.Build.Context, Recipe: recipe, Repository: repo, Platforms: platforms,
		SourceURL: src, Revision: p.After, Created: commit.Time,
		Keychain: b.Keychain, RemoteOptions: b.RemoteOptions, BeforePush: b.recordTrace(log),
		Attest: b.attest(a, recipe, src, p.After, commit.Time, start),
	})
	if err != nil {
		if imagebuild.IsPermanent(err) {
			return nil, nil, retry.Permanent(err)
		}
		return nil, nil, err
	}
	log.InfoContext(ctx, "image built", "digest", res.Digest.String(), "image", res.Ref, "tag", res.Tag, "pushed", res.Pushed,
		"platforms", res.Platforms, "bytes", res.Size, "seconds", time.Since(start).Seconds())
	return res, commit, nil
}
