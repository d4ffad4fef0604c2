package imagebuild

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// describe fills a Result from the assembled image or index.
func describe(t remote.Taggable, index bool, images []v1.Image, platforms []v1.Platform, repo name.Repository, tag name.Tag, base string) (*Result, error) {
	raw, err := t.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("computing manifest: %w", err)
	}
	d, _, err := v1.SHA256(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("computing digest: %w", err)
	}
	// Both images and indexes (and a remote.Descriptor) know their media type.
	var mt types.MediaType
	if d, ok := t.(*remote.Descriptor); ok {
		mt = d.MediaType
	} else if m, ok := t.(interface {
		MediaType() (types.MediaType, error)
	}); ok {
		if mt, err = m.MediaType(); err != nil {
			return nil, fmt.Errorf("computing media type: %w", err)
		}
	}
	res := &Result{
		Digest:     d,
		Descriptor: v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))},
		Ref:        repo.Digest(d.String()).String(),
		Tag:        tag.String(),
		Base:       base,
	}
	seen := map[v1.Hash]bool{}
	add := func(h v1.Hash, size int64) {
		if !seen[h] {
			seen[h] = true
			res.Size += size
		}
	}
	if index {
		add(d, int64(len(raw)))
	}
	for i, img := range images {
		res.Platforms = append(res.Platforms, platforms[i].String())
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("computing manifest: %w", err)
		}
		md, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("computing digest: %w", err)
		}
		ms, err := img.Size()
		if err != nil {
			return nil, fmt.Errorf("computing manifest size: %w", err)
		}
		add(md, ms)
		if index {
			p := platforms[i]
			res.Children = append(res.Children, v1.Descriptor{MediaType: m.MediaType, Digest: md, Size: ms, Platform: &p})
		}
		add(m.Config.Digest, m.Config.Size)
		for _, l := range m.Layers {
			add(l.Digest, l.Size)
		}
	}
	return res, nil
}

// Describe renders a Result for a terminal, one fact per line.
func Describe(res *Result) string {
	var b strings.Builder
	verb := "pushed"
	if !res.Pushed {
		verb = "exists"
	}
	fmt.Fprintf(&b, "%-9s %s\n", verb, res.Ref)
	fmt.Fprintf(&b, "%-9s %s\n", "tag", res.Tag)
	fmt.Fprintf(&b, "%-9s %s\n", "base", res.Base)
	fmt.Fprintf(&b, "%-9s %s\n", "platforms", strings.Join(res.Platforms, ", "))
	fmt.Fprintf(&b, "%-9s %d added, %s in all\n", "layers", res.Layers, humanBytes(res.Size))
	return b.String()
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
