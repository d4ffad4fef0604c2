package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// OCI annotation keys Conveyor reads and writes.
const (
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationCreated  = "org.opencontainers.image.created"
)

// Provenance is what an image says about where it came from.
type Provenance struct {
	Source    string
	Revision  string
	Created   time.Time
	MediaType string
	Platforms []string
	// Size is the manifest's size plus its config and layers (or, for an
	// index, its children's manifests).
	Size int64
}

// Inspect reads an image's provenance from its registry: the manifest (or
// index) annotations, falling back to the config labels. A missing image is
// a permanent error; an unreachable registry is not.
func Inspect(ctx context.Context, ref string, opts ...remote.Option) (*Provenance, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("parsing %s: %w", ref, err))
	}
	desc, err := remote.Get(r, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return nil, classify(fmt.Errorf("reading %s: %w", ref, err))
	}
	p := &Provenance{MediaType: string(desc.MediaType), Size: desc.Size}
	var annotations, labels map[string]string
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, classify(err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, classify(err)
		}
		annotations = m.Annotations
		for _, c := range m.Manifests {
			p.Size += c.Size
			if c.Platform != nil {
				p.Platforms = append(p.Platforms, c.Platform.String())
			}
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, classify(err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, classify(err)
		}
		annotations = m.Annotations
		p.Size += m.Config.Size
		for _, l := range m.Layers {
			p.Size += l.Size
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, classify(err)
		}
		labels = cfg.Config.Labels
		p.Platforms = append(p.Platforms, (&v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}).String())
	}
	get := func(k string) string {
		if v := annotations[k]; v != "" {
			return v
		}
		return labels[k]
	}
	p.Source, p.Revision = get(AnnotationSource), get(AnnotationRevision)
	if c := get(AnnotationCreated); c != "" {
		if t, err := time.Parse(time.RFC3339, c); err == nil {
			p.Created = t.UTC()
		}
	}
	return p, nil
}

func classify(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
			return retry.Permanent(err)
		}
	}
	return err
}
