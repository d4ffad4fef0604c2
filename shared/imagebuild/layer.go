package imagebuild

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// errNotUploaded is what a layer's Digest, DiffID and Size return until its
// compressed stream has been read to the end. It wraps stream.ErrNotComputed
// because that is how remote.WriteLayer recognises a streaming layer: it
// uploads without an existence check and asks for the digest afterwards.
var errNotUploaded = fmt.Errorf("layer not uploaded yet: %w", stream.ErrNotComputed)

// layer is a deterministic layer made from planned entries, read from the
// context once: the tar stream is gzipped while it is uploaded, and the
// digests are computed on the way. Reading the context a second time only to
// learn the digests first cost as much as the upload itself.
type layer struct {
	ctx     *buildContext
	entries []entry
	mtime   time.Time
	total   int64 // bytes of file content the layer holds

	// progress, when set, is called with the bytes of file content read so
	// far.
	progress func(read int64)

	mu             sync.Mutex
	known          bool
	digest, diffID v1.Hash
	size           int64
	files          []AddedFile // set with the digests
}

var _ v1.Layer = (*layer)(nil)

// newLayer prepares a layer; nothing is read until it is uploaded.
func newLayer(ctx *buildContext, entries []entry, mtime time.Time) *layer {
	l := &layer{ctx: ctx, entries: entries, mtime: mtime.UTC().Truncate(time.Second)}
	for _, e := range entries {
		if e.typ == tar.TypeReg {
			l.total += e.size
		}
	}
	return l
}

// gzipLevel is fixed: the level is part of the bytes, hence of the digest.
// klauspost/compress is used rather than compress/gzip because it is about
// four times faster at the same level on incompressible files, and its
// output depends on the pinned module version rather than on the toolchain.
const gzipLevel = gzip.BestSpeed

// copyBufSize is large enough that big files cost few read calls.
const copyBufSize = 256 << 10

// uploadBufSize decouples compression from the network: gzip keeps working
// while the HTTP client sends the previous chunk.
const uploadBufSize = 64 << 10

// writeTar writes the layer's tar stream: normalised headers in the planned
// (sorted) order, with file contents streamed from the context.
func (l *layer) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, copyBufSize)
	var read int64
	var files []AddedFile
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
		f, err := l.copyFile(tw, e, buf, &read)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar stream: %w", err)
	}
	l.mu.Lock()
	l.files = files
	l.mu.Unlock()
	return nil
}

// progressStep bounds how often progress is reported inside a big file.
const progressStep = 4 << 20

// copyFile streams one file's content into w and describes it: its
// digest, and for a Go executable its build information.
func (l *layer) copyFile(w io.Writer, e entry, buf []byte, read *int64) (AddedFile, error) {
	af := AddedFile{Path: imagePath(e.name), Size: e.size, Mode: e.mode}
	f, err := l.ctx.open(e)
	if err != nil {
		return af, err
	}
	defer f.Close()
	h := sha256.New()
	w = io.MultiWriter(w, h)
	var n int64
	for n < e.size {
		chunk := buf[:min(int64(len(buf)), e.size-n)]
		m, err := io.ReadFull(f, chunk)
		n += int64(m)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			// The file shrank after it was planned: its header already
			// promised more bytes.
			return af, &ContextError{Path: e.src, Reason: "changed during the build"}
		}
		if err != nil {
			return af, fmt.Errorf("copying %q: %w", e.src, err)
		}
		if _, err := w.Write(chunk); err != nil {
			return af, err
		}
		if l.progress != nil && (n == e.size || (*read+n)/progressStep != (*read+n-int64(m))/progressStep) {
			l.progress(*read + n)
		}
	}
	*read += n
	af.SHA256 = hex.EncodeToString(h.Sum(nil))
	if ra, ok := f.(io.ReaderAt); ok {
		af.Go = goBinary(ra, e.mode, e.size)
	}
	return af, nil
}

// Digest implements v1.Layer.
func (l *layer) Digest() (v1.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known {
		return v1.Hash{}, errNotUploaded
	}
	return l.digest, nil
}

// DiffID implements v1.Layer.
func (l *layer) DiffID() (v1.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known {
		return v1.Hash{}, errNotUploaded
	}
	return l.diffID, nil
}

// Size implements v1.Layer.
func (l *layer) Size() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known {
		return 0, errNotUploaded
	}
	return l.size, nil
}

// MediaType implements v1.Layer.
func (l *layer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Uncompressed implements v1.Layer.
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(l.writeTar(pw)) }()
	return pr, nil
}

// Compressed implements v1.Layer: the tar stream is written, hashed and
// gzipped while it is read, so memory does not grow with the layer. Each
// call reads the context afresh, so an upload the client retries can start
// over; the digests are recorded when a stream is complete, before the
// reader sees EOF.
func (l *layer) Compressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		diff, comp := sha256.New(), sha256.New()
		counter := &countWriter{}
		bw := bufio.NewWriterSize(io.MultiWriter(pw, comp, counter), uploadBufSize)
		gz, err := gzip.NewWriterLevel(bw, gzipLevel)
		if err != nil {
			pw.CloseWithError(fmt.Errorf("compressing layer: %w", err))
			return
		}
		if err := l.writeTar(io.MultiWriter(diff, gz)); err != nil {
			pw.CloseWithError(err)
			return
		}
		if err := gz.Close(); err != nil {
			pw.CloseWithError(fmt.Errorf("compressing layer: %w", err))
			return
		}
		if err := bw.Flush(); err != nil {
			pw.CloseWithError(err)
			return
		}
		l.mu.Lock()
		l.known, l.diffID, l.digest, l.size = true, sum(diff), sum(comp), counter.n
		l.mu.Unlock()
		pw.Close()
	}()
	return pr, nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
