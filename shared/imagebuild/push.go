package imagebuild

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options says what to build and where to push it.
type Options struct {
	ContextDir string          // the checked-out commit; every path read stays inside it
	Recipe     *Recipe         // from ParseDockerfile or RecipeFromSpec
	Repository name.Repository // where to push; build it with name.Insecure for plain-HTTP registries
	SourceURL  string          // org.opencontainers.image.source
	Revision   string          // the commit SHA (hex); tags the image sha-<first 12>
	Created    time.Time       // the commit time: every mtime and the config's created

	// ContextPath is the build context inside ContextDir, slash-separated
	// ("" or "." for ContextDir itself). It is opened through an os.Root of
	// ContextDir, so neither it nor a symlink on its way can leave ContextDir.
	ContextPath string

	// Platform selects one platform of a multi-platform base (and sets the
	// platform of FROM scratch, linux/amd64 by default). When nil, every
	// platform of the base is built, unless FROM --platform names one.
	Platform *v1.Platform
	// Platforms selects several platforms of the base (each must be
	// there); with FROM scratch it builds an index of them. It cannot be
	// combined with Platform. Each platform gets its own PlatformArgs.
	Platforms []v1.Platform
	// Keychain authenticates to registries; authn.DefaultKeychain when nil.
	Keychain authn.Keychain
	// NameOptions parse the base image reference (name.Insecure, name.WithDefaultRegistry…).
	NameOptions []name.Option
	// RemoteOptions are added after the context and the keychain (a transport, a retry policy…).
	RemoteOptions []remote.Option
	// Progress, when set, is called as layers are uploaded; calls are
	// serialised.
	Progress func(Progress)
	// BeforePush, when set, is called with the image's digest before any
	// manifest is written (the push, or the tag restored on an image the
	// registry already holds): a registry announces the image as soon as
	// that write returns, so what its listeners read must exist by then.
	// An error stops the build before the write.
	BeforePush func(ctx context.Context, digest v1.Hash) error
	// Attest, when set, is called like BeforePush (and before it) with
	// the image's Result, Contents included: attestations attached then
	// are in the registry before the image is announced.
	Attest func(ctx context.Context, res *Result) error
	// UncommittedContext says the context may differ from Revision's tree
	// (a local worktree with changes). Build then always reads the context,
	// instead of trusting an image the tag holds from the same recipe and
	// revision; the registry still skips a digest it already has.
	UncommittedContext bool
}

// Progress reports one layer's advance.
type Progress struct {
	Phase  string // "uploading": the context is read, compressed and uploaded in one pass
	Layer  int    // 1-based
	Layers int
	Bytes  int64 // bytes of file content read so far
	Total  int64 // bytes of file content the layer holds
}

// Result describes the pushed (or already present) image.
type Result struct {
	Digest v1.Hash
	// Descriptor is the manifest's (or index's): what an attestation's
	// subject names.
	Descriptor v1.Descriptor
	Ref        string   // repo@sha256:…, what manifests must reference
	Tag        string   // repo:sha-<12 hex>
	Base       string   // the base pinned by digest, or "scratch"
	Platforms  []string // "linux/amd64", …
	Layers     int      // layers the recipe added
	Size       int64    // bytes of every manifest, config and layer the image references
	Pushed     bool     // false when the registry already had this image
	// Children are the per-platform manifests of an index, in its order
	// (empty for a single image).
	Children []v1.Descriptor
	// Contents are the files the recipe's layers add, per platform; set
	// when the layers were streamed (not when the commit's tag already
	// held the image).
	Contents []PlatformContents
}

func (o *Options) validate() error {
	var problems []string
	if o.ContextDir == "" {
		problems = append(problems, "ContextDir is empty")
	}
	if o.Recipe == nil || len(o.Recipe.Stages) == 0 {
		problems = append(problems, "Recipe is empty")
	}
	if o.Repository.RepositoryStr() == "" {
		problems = append(problems, "Repository is empty")
	}
	if _, err := hex.DecodeString(o.Revision); err != nil || len(o.Revision) < 12 {
		problems = append(problems, fmt.Sprintf("Revision %q is not a hex commit SHA", o.Revision))
	}
	if o.Created.IsZero() {
		problems = append(problems, "Created is zero: pass the commit time")
	}
	if o.Platform != nil && len(o.Platforms) > 0 {
		problems = append(problems, "Platform and Platforms are both set")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(problems, "; "), ErrInvalidOptions)
	}
	return nil
}

// Build builds the recipe from the context and pushes the image by digest
// and as tag sha-<first 12 hex of the revision>; it never writes latest.
//
// When that tag already holds an image built from the same inputs (its
// AnnotationBuildKey matches), Build returns it without reading the context
// or writing anything (Result.Pushed is false). Otherwise each layer is read
// from the context once, compressed and uploaded as it is read, and the
// manifest is written last; when the registry turns out to hold the
// resulting digest already, only the tag is restored (Result.Pushed is
// false). Nothing is written when the recipe is invalid or the context fails
// to plan; IsPermanent tells such errors from transient ones.
func Build(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, o.RemoteOptions...)
	tag := o.Repository.Tag("sha-" + strings.ToLower(o.Revision[:12]))
	meta := imageMeta{source: o.SourceURL, revision: strings.ToLower(o.Revision), created: o.Created.UTC().Truncate(time.Second)}
	report := serialised(o.Progress)

	bctx, err := openContext(o.ContextDir, o.ContextPath)
	if err != nil {
		return nil, err
	}
	defer bctx.Close()

	final := len(o.Recipe.Stages) - 1
	stage := o.Recipe.Stages[final]
	platform := o.Platform
	if platform == nil && stage.Platform != "" {
		p, err := v1.ParsePlatform(stage.Platform)
		if err != nil {
			return nil, fmt.Errorf("parsing platform %q: %w", stage.Platform, ErrInvalidRecipe)
		}
		platform = p
	}
	base, err := resolveBase(ctx, stage.Base, platform, o.Platforms, o.NameOptions, ropts)
	if err != nil {
		return nil, err
	}
	if meta.key, err = buildKey(o.Recipe, base.ref, platform, o.Platforms, meta); err != nil {
		return nil, err
	}
	if !o.UncommittedContext {
		desc, err := findBuilt(tag, meta.key, ropts)
		if err != nil {
			return nil, err
		}
		if desc != nil {
			return describeBuilt(desc, base, stage, o.Repository, tag)
		}
	}

	// Plan every platform before uploading anything, so that an invalid
	// recipe or context writes nothing. Relative destinations and variables
	// depend on the base's WORKDIR and environment, which platforms could
	// disagree on: plan once per distinct pair, and platforms that agree
	// share the same layers, uploaded once.
	// A recipe that reads the platform arguments is planned per platform.
	perPlatform := o.Recipe.usesPlatformArgs()
	byEnv := map[string][]imageStep{}
	var distinct [][]imageStep
	perImage := make([][]imageStep, len(base.images))
	for i, bi := range base.images {
		var vars []string
		if perPlatform {
			vars = platformEnv(bi.platform)
		}
		wd, env := bi.config.Config.WorkingDir, append(slices.Clone(vars), bi.config.Config.Env...)
		key := wd + "\x00" + strings.Join(env, "\x00")
		steps, ok := byEnv[key]
		if !ok {
			pl := newPlanner(o.Recipe, bctx, vars)
			if steps, err = planLayers(pl, final, wd, env, meta.created); err != nil {
				if perPlatform {
					return nil, fmt.Errorf("building for %s: %w", bi.platform.String(), err)
				}
				return nil, err
			}
			byEnv[key] = steps
			distinct = append(distinct, steps)
		}
		perImage[i] = steps
	}
	for _, steps := range distinct {
		if err := uploadLayers(ctx, o.Repository, steps, report, ropts); err != nil {
			return nil, err
		}
	}

	var images []v1.Image
	var platforms []v1.Platform
	for i, bi := range base.images {
		img, err := assemble(bi, base.ref, perImage[i], meta)
		if err != nil {
			return nil, err
		}
		images = append(images, img)
		platforms = append(platforms, bi.platform)
	}
	var taggable remote.Taggable = images[0]
	if base.index {
		taggable = makeIndex(images, platforms, meta)
	}
	res, err := describe(taggable, base.index, images, platforms, o.Repository, tag, base.ref)
	if err != nil {
		return nil, err
	}
	res.Layers = len(countedLayers(perImage[0]))
	for i, bi := range base.images {
		res.Contents = append(res.Contents, PlatformContents{Platform: bi.platform.String(), Files: contents(perImage[i])})
	}

	digestRef := o.Repository.Digest(res.Digest.String())
	exists, err := manifestExists(digestRef, ropts)
	if err != nil {
		return nil, err
	}
	if exists {
		// Built before (the tag was moved or deleted since): at most restore
		// the tag, a manifest PUT without blobs.
		if d, err := remote.Head(tag, ropts...); err == nil && d.Digest == res.Digest {
			return res, nil
		}
		if err := o.beforePush(ctx, res); err != nil {
			return nil, err
		}
		if err := remote.Tag(tag, taggable, ropts...); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", tag, err)
		}
		return res, nil
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", digestRef, err)
	}
	if err := o.beforePush(ctx, res); err != nil {
		return nil, err
	}
	// Writing to the tag writes the manifest once: it is then reachable by
	// digest too. The new layers are found by their HEAD check.
	if idx, ok := taggable.(v1.ImageIndex); ok {
		err = remote.WriteIndex(tag, idx, ropts...)
	} else {
		err = remote.Write(tag, images[0], ropts...)
	}
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", digestRef, err)
	}
	res.Pushed = true
	return res, nil
}

func (o *Options) beforePush(ctx context.Context, res *Result) error {
	if o.Attest != nil {
		if err := o.Attest(ctx, res); err != nil {
			return fmt.Errorf("attesting %s: %w", res.Digest, err)
		}
	}
	if o.BeforePush == nil {
		return nil
	}
	if err := o.BeforePush(ctx, res.Digest); err != nil {
		return fmt.Errorf("preparing the push of %s: %w", res.Digest, err)
	}
	return nil
}

// planLayers plans the final stage: the entries of each layer, from
// metadata only. Nothing is read until the layers are uploaded.
func planLayers(pl *planner, stage int, workdir string, env []string, mtime time.Time) ([]imageStep, error) {
	planned, err := pl.plan(stage, workdir, env)
	if err != nil {
		return nil, err
	}
	var steps []imageStep
	for _, ps := range planned {
		is := imageStep{step: ps.step}
		if ps.step.Instruction == Copy || ps.step.Instruction == Add {
			is.layer = newLayer(pl.ctx, ps.entries, mtime)
		}
		steps = append(steps, is)
	}
	return steps, nil
}

// uploadLayers streams each layer of steps to repo: the context is read,
// tarred, hashed and compressed as it is sent, once.
func uploadLayers(ctx context.Context, repo name.Repository, steps []imageStep, report func(Progress), ropts []remote.Option) error {
	layers := countedLayers(steps)
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("uploading layer %d: %w", i+1, err)
		}
		n, total := i+1, len(layers)
		l.progress = func(read int64) {
			report(Progress{Phase: "uploading", Layer: n, Layers: total, Bytes: read, Total: l.total})
		}
		if err := remote.WriteLayer(repo, l, ropts...); err != nil {
			return fmt.Errorf("uploading layer %d to %s: %w", n, repo, err)
		}
		report(Progress{Phase: "uploading", Layer: n, Layers: total, Bytes: l.total, Total: l.total})
	}
	return nil
}

func countedLayers(steps []imageStep) []*layer {
	var ls []*layer
	for _, s := range steps {
		if s.layer != nil {
			ls = append(ls, s.layer)
		}
	}
	return ls
}

func manifestExists(ref name.Digest, ropts []remote.Option) (bool, error) {
	_, err := remote.Head(ref, ropts...)
	if err == nil {
		return true, nil
	}
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return false, nil
	}
	return false, fmt.Errorf("checking %s: %w", ref, err)
}

func serialised(f func(Progress)) func(Progress) {
	if f == nil {
		return func(Progress) {}
	}
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		f(p)
	}
}
