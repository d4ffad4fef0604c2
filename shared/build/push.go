package build

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
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
	ContextDir string          // the checked-out commit; the build context
	Recipe     *Recipe         // from ParseDockerfile or RecipeFromSpec
	Repository name.Repository // where to push; build it with name.Insecure for plain-HTTP registries
	SourceURL  string          // org.opencontainers.image.source
	Revision   string          // the commit SHA (hex); tags the image sha-<first 12>
	Created    time.Time       // the commit time: every mtime and the config's created

	// Platform selects one platform of a multi-platform base (and sets the
	// platform of FROM scratch, linux/amd64 by default). When nil, every
	// platform of the base is built, unless FROM --platform names one.
	Platform *v1.Platform
	// Keychain authenticates to registries; authn.DefaultKeychain when nil.
	Keychain authn.Keychain
	// NameOptions parse the base image reference (name.Insecure, name.WithDefaultRegistry…).
	NameOptions []name.Option
	// RemoteOptions are added after the context and the keychain (a transport, a retry policy…).
	RemoteOptions []remote.Option
	// Progress, when set, is called as layers are digested and uploaded;
	// calls are serialised.
	Progress func(Progress)
}

// Progress reports one layer's advance.
type Progress struct {
	Phase  string // "digesting" (reading the context) or "uploading"
	Layer  int    // 1-based
	Layers int
	Bytes  int64 // compressed bytes done
	Total  int64 // compressed size of the layer
}

// Result describes the pushed (or already present) image.
type Result struct {
	Digest    v1.Hash
	Ref       string   // repo@sha256:…, what manifests must reference
	Tag       string   // repo:sha-<12 hex>
	Base      string   // the base pinned by digest, or "scratch"
	Platforms []string // "linux/amd64", …
	Layers    int      // layers the recipe added
	Size      int64    // bytes of every manifest, config and layer the image references
	Pushed    bool     // false when the registry already had this digest
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
	if len(problems) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(problems, "; "), ErrInvalidOptions)
	}
	return nil
}

// Build builds the recipe from the context and pushes the image by digest
// and as tag sha-<first 12 hex of the revision>; it never writes latest.
// When the registry already holds the image's digest, nothing is uploaded
// (Result.Pushed is false). Nothing is pushed when the recipe or the context
// is invalid; IsPermanent tells such errors from transient ones.
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

	bctx, err := openContext(o.ContextDir)
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
	base, err := resolveBase(ctx, stage.Base, platform, o.NameOptions, ropts)
	if err != nil {
		return nil, err
	}

	// Relative destinations and variables depend on the base's WORKDIR and
	// environment, which platforms could disagree on: plan once per distinct
	// pair.
	pl := newPlanner(o.Recipe, bctx)
	stepsByWorkdir := map[string][]imageStep{}
	var images []v1.Image
	var platforms []v1.Platform
	for _, bi := range base.images {
		wd, env := bi.config.Config.WorkingDir, bi.config.Config.Env
		key := wd + "\x00" + strings.Join(env, "\x00")
		steps, ok := stepsByWorkdir[key]
		if !ok {
			if steps, err = digestLayers(ctx, pl, final, wd, env, meta.created, report); err != nil {
				return nil, err
			}
			stepsByWorkdir[key] = steps
		}
		img, err := assemble(bi, base.ref, steps, meta)
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
	res.Layers = countLayers(stepsByWorkdir)

	digestRef := o.Repository.Digest(res.Digest.String())
	exists, err := manifestExists(digestRef, ropts)
	if err != nil {
		return nil, err
	}
	if exists {
		// Already built: at most restore the tag, a manifest PUT without blobs.
		if d, err := remote.Head(tag, ropts...); err == nil && d.Digest == res.Digest {
			return res, nil
		}
		if err := remote.Tag(tag, taggable, ropts...); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", tag, err)
		}
		return res, nil
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", digestRef, err)
	}
	for _, steps := range stepsByWorkdir {
		for _, s := range steps {
			if s.layer != nil {
				n, total, l := s.n, len(countedLayers(steps)), s.layer
				l.uploaded = func(b int64) {
					report(Progress{Phase: "uploading", Layer: n, Layers: total, Bytes: b, Total: l.size})
				}
			}
		}
	}
	if idx, ok := taggable.(v1.ImageIndex); ok {
		err = remote.WriteIndex(digestRef, idx, ropts...)
	} else {
		err = remote.Write(digestRef, images[0], ropts...)
	}
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", digestRef, err)
	}
	if err := remote.Tag(tag, taggable, ropts...); err != nil {
		return nil, fmt.Errorf("tagging %s: %w", tag, err)
	}
	res.Pushed = true
	return res, nil
}

// digestLayers plans the final stage and computes each layer's digests,
// reading the context once.
func digestLayers(ctx context.Context, pl *planner, stage int, workdir string, env []string, mtime time.Time, report func(Progress)) ([]imageStep, error) {
	planned, err := pl.plan(stage, workdir, env)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, ps := range planned {
		if ps.step.Instruction == Copy || ps.step.Instruction == Add {
			total++
		}
	}
	var steps []imageStep
	n := 0
	for _, ps := range planned {
		is := imageStep{step: ps.step}
		if ps.step.Instruction == Copy || ps.step.Instruction == Add {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("building layer %d: %w", n+1, err)
			}
			n++
			l, err := newLayer(pl.ctx, ps.entries, mtime)
			if err != nil {
				return nil, pl.locate(ps.step, err)
			}
			report(Progress{Phase: "digesting", Layer: n, Layers: total, Bytes: l.size, Total: l.size})
			is.layer, is.n = l, n
		}
		steps = append(steps, is)
	}
	return steps, nil
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

func countLayers(m map[string][]imageStep) int {
	for _, steps := range m {
		return len(countedLayers(steps))
	}
	return 0
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
