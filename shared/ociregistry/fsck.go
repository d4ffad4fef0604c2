package ociregistry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrDamaged is returned by Open when the registry's files disagree: a
// journal line that does not parse, or a manifest whose blobs are gone.
var ErrDamaged = errors.New("registry damaged")

// Finding is one problem in a registry's files.
type Finding struct {
	// Path is the file concerned: the journal or a blob.
	Path string
	// Line is the journal line, 0 for a blob.
	Line    int
	Problem string
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.Path, f.Line, f.Problem)
	}
	return fmt.Sprintf("%s: %s", f.Path, f.Problem)
}

// scanned is what a scan of a registry directory found.
type scanned struct {
	dir      string
	lines    []line
	badLines map[int]string    // journal line → problem
	badBlobs map[string]string // blob path → problem
	uploads  []string          // partial uploads a killed process left
}

// Check inspects the registry in dir: every journal line parses, a
// manifest pushed by digest has that digest, every live manifest's blobs
// are present and every index's manifests are in the journal. With
// verifyBlobs every blob is also hashed against its name. Partial uploads
// left by a killed process are reported too.
func Check(dir string, verifyBlobs bool) ([]Finding, error) {
	s, err := scan(dir, verifyBlobs)
	if err != nil {
		return nil, err
	}
	return s.findings(), nil
}

func scan(dir string, verify bool) (*scanned, error) {
	s := &scanned{dir: dir, badLines: map[int]string{}, badBlobs: map[string]string{}}
	var err error
	if s.lines, err = readJournal(filepath.Join(dir, JournalName)); err != nil {
		return nil, err
	}
	for _, l := range s.lines {
		switch {
		case l.torn:
			s.badLines[l.n] = "last line cut short (a write that never completed)"
		case l.err != nil:
			s.badLines[l.n] = l.err.Error()
		}
	}
	if verify {
		if err := s.verifyBlobs(); err != nil {
			return nil, err
		}
	}
	present := func(digest string) bool {
		p, ok := blobPath(dir, digest)
		if !ok || s.badBlobs[p] != "" {
			return false
		}
		_, err := os.Stat(p)
		return err == nil
	}
	// An index whose manifest goes bad goes bad too: repeat until stable.
	for {
		d := dangling(s.lines, s.badLines, present)
		if len(d) == 0 {
			return s, nil
		}
		for n, p := range d {
			s.badLines[n] = p
		}
	}
}

// verifyBlobs hashes every blob and lists leftover uploads.
func (s *scanned) verifyBlobs() error {
	root := filepath.Join(s.dir, BlobsDir)
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", root, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "upload-") {
			s.uploads = append(s.uploads, filepath.Join(root, e.Name()))
		}
	}
	dir := filepath.Join(root, "sha256")
	blobs, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, b := range blobs {
		p := filepath.Join(dir, b.Name())
		got, err := hashFile(p)
		if err != nil {
			s.badBlobs[p] = fmt.Sprintf("unreadable: %v", err)
			continue
		}
		if got != b.Name() {
			s.badBlobs[p] = "content has digest sha256:" + got
		}
	}
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *scanned) findings() []Finding {
	journal := filepath.Join(s.dir, JournalName)
	var out []Finding
	for _, l := range s.lines {
		if p := s.badLines[l.n]; p != "" {
			out = append(out, Finding{Path: journal, Line: l.n, Problem: p})
		}
	}
	var blobs []string
	for p := range s.badBlobs {
		blobs = append(blobs, p)
	}
	sort.Strings(blobs)
	for _, p := range blobs {
		out = append(out, Finding{Path: p, Problem: s.badBlobs[p]})
	}
	for _, p := range s.uploads {
		out = append(out, Finding{Path: p, Problem: "partial upload left by an interrupted push"})
	}
	return out
}

// Repaired reports what Repair set aside.
type Repaired struct {
	// Quarantine is the directory under lostFound holding what was set
	// aside: damaged blobs, partial uploads and the journal lines removed
	// (in manifests.jsonl, as they were).
	Quarantine string
	// Findings are the problems repaired.
	Findings []Finding
	// Images are the manifests (repository@digest) no longer served: push
	// them again, e.g. by building their commit again.
	Images []string
}

// Repair sets aside into a new directory under lostFound every damaged
// blob, every partial upload and every journal line Check finds wrong
// (including manifests whose blobs are missing, so that a new build pushes
// them again rather than finding them present), and rewrites the journal
// without those lines. It deletes nothing. It returns nil when there was
// nothing to repair. No process may be serving the registry meanwhile.
func Repair(dir, lostFound string) (*Repaired, error) {
	s, err := scan(dir, true)
	if err != nil {
		return nil, err
	}
	found := s.findings()
	if len(found) == 0 {
		return nil, nil
	}
	q := filepath.Join(lostFound, time.Now().UTC().Format("20060102T150405.000000000Z")+"-registry")
	r := &Repaired{Quarantine: q, Findings: found}
	for p := range s.badBlobs {
		if err := setAside(p, filepath.Join(q, BlobsDir, "sha256", filepath.Base(p))); err != nil {
			return r, err
		}
	}
	for _, p := range s.uploads {
		if err := setAside(p, filepath.Join(q, "uploads", filepath.Base(p))); err != nil {
			return r, err
		}
	}
	if len(s.badLines) == 0 {
		return r, nil
	}
	var kept, removed []byte
	for _, l := range s.lines {
		if s.badLines[l.n] == "" {
			kept = append(append(kept, l.raw...), '\n')
			continue
		}
		removed = append(append(removed, l.raw...), '\n')
		if l.err == nil && l.e.Method == "PUT" {
			repo, _, _ := manifestPath(l.e.Path)
			r.Images = append(r.Images, repo+"@"+digestOf(l.e.Body))
		}
	}
	if err := writePrivate(filepath.Join(q, JournalName), removed); err != nil {
		return r, err
	}
	return r, replaceFile(filepath.Join(dir, JournalName), kept)
}

// setAside moves a file into the quarantine, creating its directories
// private to the owner.
func setAside(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(to), err)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("setting %s aside: %w", from, err)
	}
	return nil
}

// writePrivate writes a new owner-only file durably.
func writePrivate(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// replaceFile replaces path with body atomically: a crash leaves either
// the old file or the new one.
func replaceFile(path string, body []byte) error {
	tmp := path + ".new"
	_ = os.Remove(tmp) // a leftover of an interrupted repair
	if err := writePrivate(tmp, body); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}
