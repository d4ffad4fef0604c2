package imagebuild

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotation keys set on manifests, indexes and as config labels.
const (
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationCreated  = "org.opencontainers.image.created"
)

// baseImage is one platform of the base.
type baseImage struct {
	platform v1.Platform
	image    v1.Image
	config   *v1.ConfigFile
}

// resolvedBase is the base image pinned to a digest.
type resolvedBase struct {
	ref    string // repo@sha256:…, or "scratch"
	index  bool   // the base is a multi-platform index
	images []baseImage
}

// resolveBase pins the base to a digest and selects its platforms: all of an
// index's when want and list are empty, the one matching want, or those
// matching list (each of which the base must have).
func resolveBase(ctx context.Context, base string, want *v1.Platform, list []v1.Platform, nameOpts []name.Option, remoteOpts []remote.Option) (*resolvedBase, error) {
	if base == "scratch" {
		return scratchBase(want, list), nil
	}
	rb, err := resolveRemoteBase(ctx, base, want, nameOpts, remoteOpts)
	if err != nil || len(list) == 0 {
		return rb, err
	}
	if rb.images, err = selectPlatforms(rb.images, list, rb.ref); err != nil {
		return nil, err
	}
	return rb, nil
}

// scratchBase is an empty base for want, or for each of list (an index
// when there are several), linux/amd64 by default.
func scratchBase(want *v1.Platform, list []v1.Platform) *resolvedBase {
	ps := []v1.Platform{{OS: "linux", Architecture: "amd64"}}
	switch {
	case want != nil:
		ps = []v1.Platform{*want}
	case len(list) > 0:
		ps = list
	}
	rb := &resolvedBase{ref: "scratch", index: len(ps) > 1}
	for _, p := range ps {
		cfg := &v1.ConfigFile{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, RootFS: v1.RootFS{Type: "layers"}}
		rb.images = append(rb.images, baseImage{platform: p, image: empty.Image, config: cfg})
	}
	return rb
}

func resolveRemoteBase(ctx context.Context, base string, want *v1.Platform, nameOpts []name.Option, remoteOpts []remote.Option) (*resolvedBase, error) {
	ref, err := name.ParseReference(base, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("parsing base image %q: %w", base, err)
	}
	desc, err := remote.Get(ref, append(remoteOpts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("resolving base image %s: %w", ref, err)
	}
	pinned := ref.Context().Digest(desc.Digest.String()).String()
	rb := &resolvedBase{ref: pinned}
	if desc.MediaType.IsIndex() {
		rb.index = true
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading base index %s: %w", pinned, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading base index %s: %w", pinned, err)
		}
		for _, child := range im.Manifests {
			if !child.MediaType.IsImage() || child.Platform == nil || child.Platform.OS == "unknown" {
				continue // attestations and nested indexes
			}
			if want != nil && !child.Platform.Satisfies(*want) {
				continue
			}
			img, err := idx.Image(child.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading base image %s for %s: %w", pinned, child.Platform, err)
			}
			bi, err := newBaseImage(img, pinned)
			if err != nil {
				return nil, err
			}
			bi.platform = *child.Platform
			rb.images = append(rb.images, bi)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading base image %s: %w", pinned, err)
		}
		bi, err := newBaseImage(img, pinned)
		if err != nil {
			return nil, err
		}
		if want != nil && !bi.platform.Satisfies(*want) {
			return nil, fmt.Errorf("base image %s is %s, not %s: %w", pinned, bi.platform.String(), want.String(), ErrBaseImage)
		}
		rb.images = []baseImage{bi}
	}
	if len(rb.images) == 0 {
		return nil, fmt.Errorf("base image %s has no image for platform %v: %w", pinned, want, ErrBaseImage)
	}
	if want != nil {
		// One platform was asked for: build an image, not an index.
		rb.images, rb.index = rb.images[:1], false
	}
	return rb, nil
}

func newBaseImage(img v1.Image, ref string) (baseImage, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return baseImage{}, fmt.Errorf("reading config of base image %s: %w", ref, err)
	}
	return baseImage{
		platform: v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion},
		image:    img,
		config:   cfg.DeepCopy(),
	}, nil
}

// ociLayer presents a base layer with its OCI media type, so that a base
// image with Docker media types can become part of an OCI manifest (which
// carries annotations). The blob is the same.
type ociLayer struct {
	v1.Layer
	mediaType types.MediaType
}

func (l *ociLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

func asOCILayer(l v1.Layer, base string) (v1.Layer, error) {
	mt, err := l.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading layer media type of %s: %w", base, err)
	}
	switch mt {
	case types.DockerLayer:
		mt = types.OCILayer
	case types.DockerUncompressedLayer:
		mt = types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		mt = types.OCIRestrictedLayer
	default:
		return l, nil
	}
	wrapped := &ociLayer{Layer: l, mediaType: mt}
	if ml, ok := l.(*remote.MountableLayer); ok {
		// Keep the mount hint: same-registry pushes mount instead of copying.
		return &remote.MountableLayer{Layer: &ociLayer{Layer: ml.Layer, mediaType: mt}, Reference: ml.Reference}, nil
	}
	return wrapped, nil
}

// imageStep is a step of the final stage, with its layer if it adds one.
type imageStep struct {
	step  Step
	layer *layer
}

// assemble appends the recipe's layers to one platform of the base and
// writes its config: base config kept, then the recipe's steps in order.
func assemble(bi baseImage, baseRef string, steps []imageStep, meta imageMeta) (v1.Image, error) {
	baseLayers, err := bi.image.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers of %s: %w", baseRef, err)
	}
	var layers []v1.Layer
	for _, l := range baseLayers {
		ol, err := asOCILayer(l, baseRef)
		if err != nil {
			return nil, err
		}
		layers = append(layers, ol)
	}
	cfg := bi.config.DeepCopy()
	created := v1.Time{Time: meta.created}
	cmdSet := false
	for _, s := range steps {
		st := s.step
		h := v1.History{Created: created, CreatedBy: st.Text, Comment: "conveyor", EmptyLayer: s.layer == nil}
		switch st.Instruction {
		case Copy, Add:
			diffID, err := s.layer.DiffID()
			if err != nil {
				return nil, fmt.Errorf("assembling %s: %w", st.Text, err)
			}
			layers = append(layers, s.layer)
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		case Env:
			for _, kv := range st.Pairs {
				cfg.Config.Env = setEnv(cfg.Config.Env, kv.Key, kv.Value)
			}
		case Label:
			for _, kv := range st.Pairs {
				setLabel(&cfg.Config, kv.Key, kv.Value)
			}
		case Workdir:
			cfg.Config.WorkingDir = path.Join("/", cfg.Config.WorkingDir, st.Values[0])
			if path.IsAbs(st.Values[0]) {
				cfg.Config.WorkingDir = path.Clean(st.Values[0])
			}
		case User:
			cfg.Config.User = st.Values[0]
		case Expose:
			if cfg.Config.ExposedPorts == nil {
				cfg.Config.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range st.Values {
				cfg.Config.ExposedPorts[p] = struct{}{}
			}
		case Entrypoint:
			cfg.Config.Entrypoint = slices.Clone(st.Values)
			if !cmdSet {
				// As Docker: a new ENTRYPOINT drops the base image's CMD.
				cfg.Config.Cmd = nil
			}
		case Cmd:
			cfg.Config.Cmd = slices.Clone(st.Values)
			cmdSet = true
		default:
			return nil, fmt.Errorf("step %s: %w", st.Instruction, ErrInvalidRecipe)
		}
		cfg.History = append(cfg.History, h)
	}
	for k, v := range meta.annotations() {
		setLabel(&cfg.Config, k, v)
	}
	cfg.Created = created
	cfg.Container, cfg.DockerVersion = "", ""

	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, fmt.Errorf("writing config: %w", err)
	}
	return mutate.Annotations(img, meta.manifestAnnotations()).(v1.Image), nil
}

func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

func setLabel(c *v1.Config, key, value string) {
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.Labels[key] = value
}

// imageMeta is what the image says about its provenance.
type imageMeta struct {
	source, revision string
	created          time.Time
	key              string // see buildKey
}

// manifestAnnotations are the provenance plus the build key. The key stays
// out of the config's labels: it describes how Conveyor built the image, not
// the image.
func (m imageMeta) manifestAnnotations() map[string]string {
	a := m.annotations()
	a[AnnotationBuildKey] = m.key
	return a
}

// annotations are the provenance, for manifests and as config labels.
func (m imageMeta) annotations() map[string]string {
	a := map[string]string{
		AnnotationRevision: m.revision,
		AnnotationCreated:  m.created.UTC().Format(time.RFC3339),
	}
	if m.source != "" {
		a[AnnotationSource] = m.source
	}
	return a
}

// makeIndex puts the per-platform images in an OCI index.
func makeIndex(images []v1.Image, platforms []v1.Platform, meta imageMeta) v1.ImageIndex {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, img := range images {
		p := platforms[i]
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.Annotations(idx, meta.manifestAnnotations()).(v1.ImageIndex)
}

// stageRef finds the stage a COPY --from names: a name or an index.
func stageRef(r *Recipe, from string) (int, error) {
	if i, err := strconv.Atoi(from); err == nil && i >= 0 && i < len(r.Stages) {
		return i, nil
	}
	for i, st := range r.Stages {
		if st.Name != "" && st.Name == from {
			return i, nil
		}
	}
	return 0, errors.New("no such stage")
}
