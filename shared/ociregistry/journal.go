package ociregistry

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// JournalName and BlobsDir are the registry's files inside its directory:
// the manifest journal (one JSON line per manifest PUT or DELETE) and the
// content-addressed blobs (BlobsDir/sha256/<hex>).
const (
	JournalName = "manifests.jsonl"
	BlobsDir    = "blobs"
)

// line is one journal line as read from disk.
type line struct {
	n    int    // 1-based line number
	raw  []byte // without its newline
	e    entry
	err  error // why the line does not parse, or does not match its digest
	torn bool  // the last line, without its newline: a write cut short
}

// readJournal reads every line of the journal at path; a missing journal
// has none.
func readJournal(path string) ([]line, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest journal: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var out []line
	for n := 1; ; n++ {
		raw, err := br.ReadBytes('\n')
		if len(raw) == 0 && errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading manifest journal %s: %w", path, err)
		}
		l := line{n: n, torn: err != nil, raw: []byte(strings.TrimSuffix(string(raw), "\n"))}
		l.e, l.err = parseEntry(l.raw)
		out = append(out, l)
		if err != nil {
			return out, nil
		}
	}
}

// parseEntry decodes a journal line and checks that a manifest PUT by
// digest carries a body with that digest.
func parseEntry(raw []byte) (entry, error) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("unreadable: %w", err)
	}
	_, ref, ok := manifestPath(e.Path)
	if !ok || (e.Method != "PUT" && e.Method != "DELETE") {
		return e, fmt.Errorf("not a manifest PUT or DELETE: %s %s", e.Method, e.Path)
	}
	if e.Method == "PUT" && strings.HasPrefix(ref, "sha256:") && ref != digestOf(e.Body) {
		return e, fmt.Errorf("manifest body has digest %s, not %s", digestOf(e.Body), ref)
	}
	return e, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// refs are the digests a manifest points at: blobs (config and layers)
// and, for an index, other manifests.
type refs struct {
	Config *struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest string `json:"digest"`
	} `json:"layers"`
	Manifests []struct {
		Digest string `json:"digest"`
	} `json:"manifests"`
}

// blobPath is where the disk blob handler keeps a blob.
func blobPath(dir, digest string) (string, bool) {
	hexa, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexa) != 64 || strings.ContainsAny(hexa, "/\\.") {
		return "", false
	}
	return filepath.Join(dir, BlobsDir, "sha256", hexa), true
}

// dangling checks the live manifests of lines (those not deleted later):
// each blob it names must satisfy present, each manifest an index names
// must be among the lines. It returns, per line number, what is missing.
// Lines already marked bad are skipped, as if gone.
func dangling(lines []line, bad map[int]string, present func(digest string) bool) map[int]string {
	deleted := map[string]bool{}
	live := map[int]bool{}
	manifests := map[string]bool{}
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if l.err != nil || bad[l.n] != "" {
			continue
		}
		if l.e.Method == "DELETE" {
			deleted[l.e.Path] = true
			continue
		}
		if !deleted[l.e.Path] {
			live[l.n] = true
			manifests[digestOf(l.e.Body)] = true
		}
	}
	out := map[int]string{}
	for _, l := range lines {
		if !live[l.n] {
			continue
		}
		var r refs
		if json.Unmarshal(l.e.Body, &r) != nil {
			out[l.n] = "manifest body is not JSON"
			continue
		}
		var missing []string
		if r.Config != nil && r.Config.Digest != "" && !present(r.Config.Digest) {
			missing = append(missing, "config blob "+r.Config.Digest)
		}
		for _, layer := range r.Layers {
			if !present(layer.Digest) {
				missing = append(missing, "layer blob "+layer.Digest)
			}
		}
		for _, m := range r.Manifests {
			if !manifests[m.Digest] {
				missing = append(missing, "manifest "+m.Digest)
			}
		}
		if len(missing) > 0 {
			out[l.n] = fmt.Sprintf("%s (%s) references missing or damaged %s", l.e.Path, digestOf(l.e.Body), strings.Join(missing, ", "))
		}
	}
	return out
}
