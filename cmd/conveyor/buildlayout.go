package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// writeLayout copies the image or index at ref into a fresh OCI image
// layout in dir, named by tag's tag, so that a build needs no registry to
// be kept (`crane push DIR`, `skopeo copy oci:DIR` take it from there).
func writeLayout(ctx context.Context, dir string, ref name.Digest, tag string) error {
	desc, err := remote.Get(ref, remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("reading the image back: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the layout: %w", err)
	}
	named := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag[strings.LastIndexByte(tag, ':')+1:]})
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return fmt.Errorf("reading the index back: %w", err)
		}
		err = p.AppendIndex(idx, named)
	} else {
		img, ierr := desc.Image()
		if ierr != nil {
			return fmt.Errorf("reading the image back: %w", ierr)
		}
		err = p.AppendImage(img, named)
	}
	if err != nil {
		return fmt.Errorf("writing the image to %s: %w", dir, err)
	}
	return nil
}
