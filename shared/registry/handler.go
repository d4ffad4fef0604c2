package registry

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ConfigSource returns the pipeline's current conveyor.yaml.
type ConfigSource = config.Loader

// Handler turns image events into first-environment promotions.
type Handler struct {
	Config     ConfigSource
	Promotions queue.Sender
	// RemoteOptions authenticate to registries (ECR, GHCR…).
	RemoteOptions []remote.Option
	// Traces finds the trace id of the build that pushed a digest, so one
	// trace spans push → build → image → promotions. Optional.
	Traces func(ctx context.Context, digest string) string
	Log    *slog.Logger
	Now    func() time.Time

	images imageIndex
}

// imageIndex finds the apps of an image repository without parsing every
// app's image per event (10 ms at 10,000 apps): it is built once per
// configuration, which the source parses once per GitOps commit.
type imageIndex struct {
	mu     sync.Mutex
	cfg    *config.Config
	byRepo map[string][]int
}

// apps returns cfg's apps whose image is repo (normalised), in cfg's order.
func (x *imageIndex) apps(cfg *config.Config, repo string) []*config.App {
	x.mu.Lock()
	if x.cfg != cfg {
		x.byRepo = make(map[string][]int, len(cfg.Apps))
		for i := range cfg.Apps {
			r := repoName(cfg.Apps[i].Image)
			x.byRepo[r] = append(x.byRepo[r], i)
		}
		x.cfg = cfg
	}
	idx := x.byRepo[repo]
	x.mu.Unlock()
	apps := make([]*config.App, 0, len(idx))
	for _, i := range idx {
		apps = append(apps, &cfg.Apps[i])
	}
	return apps
}

// Func returns the images queue's message function; its bodies are
// decoded with Decode.
func (h *Handler) Func() consume.Func {
	if h.Log == nil {
		h.Log = slog.Default()
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	return h.handle
}

func (h *Handler) handle(ctx context.Context, env *event.Envelope) error {
	if err := consume.Expect(env, event.KindImage); err != nil {
		return err
	}
	var img event.Image
	if err := env.DecodePayload(&img); err != nil {
		return retry.Permanent(err)
	}
	log := h.Log.With("registry", img.Registry, "repository", img.Repository, "digest", img.Digest, "tag", img.Tag)
	switch {
	case img.Action != "push":
		log.InfoContext(ctx, "not a push: ignored", "action", img.Action)
		return nil
	case !strings.HasPrefix(img.Digest, "sha256:"):
		return retry.Permanent(fmt.Errorf("image event for %s/%s has no sha256 digest", img.Registry, img.Repository))
	case img.Tag == "":
		// Digest-only pushes are index children or the first half of a
		// push by digest then tag: the tagged event promotes the image.
		log.InfoContext(ctx, "untagged manifest: ignored")
		return nil
	case attachmentTag.MatchString(img.Tag):
		// An image's attestations (the referrers tag of registries
		// without the referrers API, cosign's .att/.sig), not an image.
		log.InfoContext(ctx, "attachment tag: ignored")
		return nil
	}
	cfg, err := h.Config.Load(ctx)
	if err != nil {
		return err
	}
	repo := repoName(img.Registry + "/" + img.Repository)
	var apps []*config.App
	for _, a := range h.images.apps(cfg, repo) {
		if a.AcceptsTag(img.Tag) && len(a.Environments) > 0 && !releaseTag(a, img.Tag) {
			apps = append(apps, a)
		}
	}
	if len(apps) == 0 {
		log.InfoContext(ctx, "no app promotes this image")
		return nil
	}
	ref := img.Registry + "/" + img.Repository + "@" + img.Digest
	prov, err := Inspect(ctx, ref, h.RemoteOptions...)
	if err != nil {
		return err
	}
	trace := env.TraceID
	if h.Traces != nil {
		if t := h.Traces(ctx, img.Digest); t != "" {
			trace = t
		}
	}
	for _, a := range apps {
		p := event.Promotion{App: a.Name, Environment: a.Environments[0].Name, Image: a.Image, Digest: img.Digest, Tag: img.Tag,
			Source: prov.Source, Revision: prov.Revision, Created: prov.Created}
		out, err := event.New(event.KindPromotion, "conveyor", env.DeliveryID, trace, p, h.Now())
		if err != nil {
			return err
		}
		if _, err := queue.SendEnvelope(ctx, h.Promotions, out, p.GroupID(), p.DedupeID(), p.App); err != nil {
			return fmt.Errorf("enqueueing the promotion of %s to %s: %w", a.Name, p.Environment, err)
		}
		log.InfoContext(ctx, "promotion enqueued", "app", a.Name, "env", p.Environment, "revision", prov.Revision, "trace_of_build", trace != env.TraceID)
	}
	return nil
}

// attachmentTag matches the tags that hold what is attached to an image.
var attachmentTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.(att|sig|sbom))?$`)

// releaseTag reports whether tag is one of the release-<env>[-<n>] tags
// retention moves onto images an environment of a already ran: moving
// one is not a new image.
func releaseTag(a *config.App, tag string) bool {
	rest, ok := strings.CutPrefix(tag, retention.TagPrefix)
	if !ok {
		return false
	}
	for _, e := range a.Environments {
		if rest == e.Name {
			return true
		}
		if n, ok := strings.CutPrefix(rest, e.Name+"-"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			return true
		}
	}
	return false
}

// repoName normalises an image repository for comparison: Docker Hub's
// implicit registry and library/ prefix are made explicit, case folded.
func repoName(s string) string {
	r, err := name.NewRepository(s, name.WeakValidation)
	if err != nil {
		return strings.ToLower(s)
	}
	return strings.ToLower(r.Name())
}

// TraceLookup finds the trace id the builder recorded for a digest under
// "trace/<digest>". It reads through Claim with a zero lease: an absent key
// leaves only an already-expired placeholder behind.
func TraceLookup(idem interface {
	Claim(ctx context.Context, key string, lease time.Duration) (state.Idem, bool, error)
}) func(ctx context.Context, digest string) string {
	return func(ctx context.Context, digest string) string {
		rec, claimed, err := idem.Claim(ctx, "trace/"+digest, 0)
		if err != nil || claimed || rec.Status != state.Completed {
			return ""
		}
		return string(rec.Result)
	}
}
