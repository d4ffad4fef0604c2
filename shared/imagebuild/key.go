package imagebuild

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// AnnotationBuildKey is set on every manifest and index Build writes: the
// hex sha256 of everything the image is built from except the context (see
// buildKey). A rebuild whose key matches the one on the commit's tag returns
// that image without reading the context or writing anything.
const AnnotationBuildKey = "dev.conveyor.build.key"

// keyVersion is hashed into every key. Bump it when a change to this package
// makes the same inputs build a different filesystem or config, so that
// images built before the change are rebuilt. A change that only alters the
// bytes (a new compressor version) needs no bump: the existing image is
// still a faithful build of the same inputs.
const keyVersion = "conveyor.build.key/v1"

// keyInputs is what buildKey hashes, as JSON.
type keyInputs struct {
	Version  string
	Stages   []Stage
	Base     string // the final stage's base pinned by digest, or "scratch"
	Platform string // the platform asked for, "" for all of the base's
	// Platforms are the platforms selected from the base, when listed.
	Platforms []string `json:",omitempty"`
	Source    string
	Revision  string
	Created   string
}

// buildKey identifies a build without reading its context: the recipe (every
// stage and step, variables substituted), the base pinned by digest (an
// index digest pins every platform's), the platform selection, and the
// provenance. The context is left out on purpose: for a checkout it is fixed
// by the revision (Options.UncommittedContext says when it is not). Earlier
// stages' bases are not resolved because only the files their COPY steps
// add can reach the image, and those are in the recipe and the context.
func buildKey(r *Recipe, base string, platform *v1.Platform, platforms []v1.Platform, meta imageMeta) (string, error) {
	in := keyInputs{
		Version:  keyVersion,
		Base:     base,
		Source:   meta.source,
		Revision: meta.revision,
		Created:  meta.created.UTC().Format(time.RFC3339),
	}
	if platform != nil {
		in.Platform = platform.String()
	}
	for _, p := range platforms {
		in.Platforms = append(in.Platforms, p.String())
	}
	// Line numbers only locate errors: a comment added above an instruction
	// must not change the key.
	for _, st := range r.Stages {
		st.Line = 0
		steps := make([]Step, len(st.Steps))
		for i, s := range st.Steps {
			s.Line = 0
			steps[i] = s
		}
		st.Steps = steps
		in.Stages = append(in.Stages, st)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("computing build key: %w", err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// findBuilt returns the manifest tag points to when it carries the build
// key, or nil when the tag is missing or was built from other inputs.
func findBuilt(tag name.Tag, key string, ropts []remote.Option) (*remote.Descriptor, error) {
	desc, err := remote.Get(tag, ropts...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("checking %s: %w", tag, err)
	}
	// Images and indexes both keep annotations at the top level.
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil || m.Annotations[AnnotationBuildKey] != key {
		// Not ours, or from other inputs: build it again.
		return nil, nil
	}
	return desc, nil
}

// describeBuilt fills a Result for an image findBuilt found, reading only
// manifests: platforms come from the index (or the base, for one image),
// the layer count from the recipe.
func describeBuilt(desc *remote.Descriptor, base *resolvedBase, stage Stage, repo name.Repository, tag name.Tag) (*Result, error) {
	var (
		taggable  remote.Taggable = desc
		images    []v1.Image
		platforms []v1.Platform
	)
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tag, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tag, err)
		}
		for _, child := range im.Manifests {
			img, err := idx.Image(child.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", tag, err)
			}
			var p v1.Platform
			if child.Platform != nil {
				p = *child.Platform
			}
			images, platforms = append(images, img), append(platforms, p)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tag, err)
		}
		images, platforms = []v1.Image{img}, []v1.Platform{base.images[0].platform}
	}
	res, err := describe(taggable, desc.MediaType.IsIndex(), images, platforms, repo, tag, base.ref)
	if err != nil {
		return nil, err
	}
	for _, s := range stage.Steps {
		if s.Instruction == Copy || s.Instruction == Add {
			res.Layers++
		}
	}
	return res, nil
}
