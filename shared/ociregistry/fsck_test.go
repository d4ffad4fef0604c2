package ociregistry_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushed is an image pushed to a registry in a test.
type pushed struct {
	tag    string
	digest v1.Hash
	layer  v1.Hash // its first layer's digest
}

// pushAll opens the registry in dir, pushes one random image per tag to
// demo/web and closes it.
func pushAll(t *testing.T, dir string, tags ...string) []pushed {
	t.Helper()
	reg, err := ociregistry.Open(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	var out []pushed
	for _, tag := range tags {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/demo/web:"+tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		layers, _ := img.Layers()
		ld, _ := layers[0].Digest()
		out = append(out, pushed{tag: tag, digest: d, layer: ld})
	}
	return out
}

// served says, per tag, whether a registry opened on dir serves the image
// with all its blobs.
func served(t *testing.T, dir string, tags ...string) map[string]bool {
	t.Helper()
	reg, err := ociregistry.Open(dir, nil, nil)
	if err != nil {
		t.Fatalf("Open after repair: %v", err)
	}
	defer reg.Close()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	out := map[string]bool{}
	for _, tag := range tags {
		ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/demo/web:"+tag, name.Insecure)
		img, err := remote.Image(ref)
		if err == nil {
			_, err = img.RawConfigFile()
		}
		if err == nil {
			var layers []v1.Layer
			layers, err = img.Layers()
			for _, l := range layers {
				if err == nil {
					_, err = l.Compressed()
				}
			}
		}
		out[tag] = err == nil
	}
	return out
}

func blob(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", "sha256", h.Hex) }

func TestFsckFindsAndRepairsDamage(t *testing.T) {
	journalLine := func(t *testing.T, dir string, n int, edit func(string) string) {
		t.Helper()
		p := filepath.Join(dir, ociregistry.JournalName)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(b), "\n")
		lines[n-1] = edit(lines[n-1])
		if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		damage    func(t *testing.T, dir string, imgs []pushed)
		openFails bool   // Open refuses the registry as it is
		finding   string // what Check reports, in its first finding
		wantImage bool   // Repair lists the first image as no longer served
	}{
		{name: "damaged journal line", damage: func(t *testing.T, dir string, _ []pushed) {
			journalLine(t, dir, 1, func(s string) string { return "\x00\x00garbage" + s[10:] })
		}, openFails: true, finding: ociregistry.JournalName + ":1: unreadable"},
		{name: "journal line whose manifest body changed", damage: func(t *testing.T, dir string, _ []pushed) {
			// The line is still JSON, but its manifest body is not.
			journalLine(t, dir, 1, func(s string) string { return strings.Replace(s, `"body":"ey`, `"body":"eX`, 1) })
		}, openFails: true, finding: ociregistry.JournalName + ":1: "},
		{name: "missing blob", damage: func(t *testing.T, dir string, imgs []pushed) {
			if err := os.Remove(blob(dir, imgs[0].layer)); err != nil {
				t.Fatal(err)
			}
		}, openFails: true, finding: "references missing or damaged layer blob", wantImage: true},
		{name: "blob whose content changed", damage: func(t *testing.T, dir string, imgs []pushed) {
			if err := os.WriteFile(blob(dir, imgs[0].layer), []byte("not the layer"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, finding: "content has digest sha256:", wantImage: true},
		{name: "partial upload left by a killed push", damage: func(t *testing.T, dir string, _ []pushed) {
			if err := os.WriteFile(filepath.Join(dir, "blobs", "upload-123"), []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, finding: "partial upload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "registry")
			imgs := pushAll(t, dir, "one", "two")
			if found, err := ociregistry.Check(dir, true); err != nil || len(found) != 0 {
				t.Fatalf("Check before any damage: %v, %v", found, err)
			}
			tc.damage(t, dir, imgs)

			reg, err := ociregistry.Open(dir, nil, nil)
			if tc.openFails != (err != nil) {
				t.Fatalf("Open after damage: %v, want failure %v", err, tc.openFails)
			}
			if err == nil {
				reg.Close()
			} else if !errors.Is(err, ociregistry.ErrDamaged) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Open: %v, want ErrDamaged naming %s", err, dir)
			}
			found, err := ociregistry.Check(dir, true)
			if err != nil || !strings.Contains(fmt.Sprint(found), tc.finding) {
				t.Fatalf("Check: %v, %v; want a finding with %q", found, err, tc.finding)
			}

			lost := filepath.Join(filepath.Dir(dir), "lost+found")
			rep, err := ociregistry.Repair(dir, lost)
			if err != nil || rep == nil {
				t.Fatalf("Repair: %+v, %v", rep, err)
			}
			wantImages := []string(nil)
			if tc.wantImage {
				wantImages = []string{"demo/web@" + imgs[0].digest.String()}
			}
			if diff := cmp.Diff(wantImages, rep.Images); diff != "" && tc.wantImage {
				t.Errorf("images no longer served (-want +got):\n%s", diff)
			}
			if found, err := ociregistry.Check(dir, true); err != nil || len(found) != 0 {
				t.Errorf("Check after repair: %v, %v", found, err)
			}
			// The second image survives every repair; nothing is deleted,
			// only set aside, privately.
			if got := served(t, dir, "two"); !got["two"] {
				t.Errorf("the undamaged image is not served after repair")
			}
			checkPrivate(t, dir)
			checkPrivate(t, lost)
			var kept int
			_ = filepath.WalkDir(rep.Quarantine, func(_ string, d fs.DirEntry, _ error) error {
				if d != nil && !d.IsDir() {
					kept++
				}
				return nil
			})
			if kept == 0 {
				t.Errorf("nothing kept in %s", rep.Quarantine)
			}
		})
	}
}

// TestTornLastLineIsCutAndTheNextPushSurvives: a push whose journal write
// was cut short was never acknowledged; the next start sets it aside and
// the next push must not be glued to it.
func TestTornLastLineIsCutAndTheNextPushSurvives(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry")
	pushAll(t, dir, "one")
	f, err := os.OpenFile(filepath.Join(dir, ociregistry.JournalName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"method":"PUT","path":"/v2/demo/web/manif`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pushAll(t, dir, "two")
	if got := served(t, dir, "one", "two"); !got["one"] || !got["two"] {
		t.Errorf("served after a torn line: %v, want both", got)
	}
	if found, err := ociregistry.Check(dir, true); err != nil || len(found) != 0 {
		t.Errorf("Check: %v, %v", found, err)
	}
	torn, _ := filepath.Glob(filepath.Join(dir, "lost+found", "*", ociregistry.JournalName))
	if len(torn) != 1 {
		t.Errorf("the torn line was not set aside: %v", torn)
	}
}

// checkPrivate fails for any file or directory under root that group or
// others may read.
func checkPrivate(t *testing.T, root string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want it private", p, fi.Mode().Perm())
		}
		return nil
	})
}
