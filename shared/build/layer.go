package build

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layer is a deterministic, streamed layer made from planned entries. Its
// digests are computed once up front (so the image digest is known before
// anything is uploaded); Compressed writes the same bytes again while they
// are read, and fails if they no longer hash to the computed digest.
type layer struct {
	ctx     *buildContext
	entries []entry
	mtime   time.Time

	digest, diffID v1.Hash
	size           int64

	// uploaded is called with the number of compressed bytes read so far.
	uploaded func(n int64)
}

var _ v1.Layer = (*layer)(nil)

// newLayer computes the digests of a layer, reading every file once.
func newLayer(ctx *buildContext, entries []entry, mtime time.Time) (*layer, error) {
	l := &layer{ctx: ctx, entries: entries, mtime: mtime.UTC().Truncate(time.Second)}
	diff, comp := sha256.New(), sha256.New()
	counter := &countWriter{w: comp}
	gz, err := gzip.NewWriterLevel(counter, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := l.writeTar(io.MultiWriter(diff, gz)); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	l.diffID = sum(diff)
	l.digest = sum(comp)
	l.size = counter.n
	return l, nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// writeTar writes the layer's tar stream: normalised headers in the planned
// (sorted) order, with file contents streamed from the context.
func (l *layer) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, e := range l.entries {
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  l.mtime,
			Linkname: e.link,
		}
		if e.typ == tar.TypeDir {
			hdr.Name += "/"
		}
		if e.typ == tar.TypeReg {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing tar header for %q: %w", e.name, err)
		}
		if e.typ != tar.TypeReg {
			continue
		}
		if err := l.copyFile(tw, e); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar stream: %w", err)
	}
	return nil
}

func (l *layer) copyFile(w io.Writer, e entry) error {
	f, err := l.ctx.open(e)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyN(w, f, e.size)
	if err == io.EOF || err == nil && n != e.size {
		return &ContextError{Path: e.src, Reason: "changed during the build"}
	}
	if err != nil {
		return fmt.Errorf("copying %q: %w", e.src, err)
	}
	return nil
}

// Digest implements v1.Layer.
func (l *layer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID implements v1.Layer.
func (l *layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size implements v1.Layer.
func (l *layer) Size() (int64, error) { return l.size, nil }

// MediaType implements v1.Layer.
func (l *layer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Uncompressed implements v1.Layer.
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(l.writeTar(pw)) }()
	return pr, nil
}

// Compressed implements v1.Layer: the tar stream is written and gzipped
// while it is read, so memory does not grow with the layer.
func (l *layer) Compressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		gz, err := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		if err := l.writeTar(gz); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(gz.Close())
	}()
	return &verifyingReader{r: pr, h: sha256.New(), want: l.digest, uploaded: l.uploaded}, nil
}

// verifyingReader fails at the end of the stream if the bytes read do not
// hash to the digest computed before: the context changed between passes.
type verifyingReader struct {
	r        *io.PipeReader
	h        hash.Hash
	want     v1.Hash
	n        int64
	uploaded func(int64)
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if n > 0 && v.uploaded != nil {
		v.uploaded(v.n)
	}
	if err == io.EOF {
		if got := sum(v.h); got != v.want {
			return n, fmt.Errorf("layer %s: build context changed while uploading (got %s)", v.want, got)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.r.Close() }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
