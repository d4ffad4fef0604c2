package test

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// makeImage runs `make -s image` at the repository's root with vars and
// returns what it printed on stdout: the image reference alone.
func makeImage(t *testing.T, vars ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "image"}, vars...)...)
	cmd.Dir = ".."
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make image %v: %v\n%s", vars, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// TestSelfImage builds Conveyor's own image the way `make image` does
// (static binaries for two architectures, then `conveyor build --platform`,
// daemonless, no container runtime), pushes it to the CNCF distribution registry and
// checks what a runtime would run: an index of linux/amd64 and linux/arm64,
// each holding a static conveyor for its own architecture, run as a
// non-root user as `conveyor dev` on every interface, with the CA bundle
// and a data directory the user owns. Built again into an OCI layout
// (`conveyor build --oci-layout`), it has the same digest.
func TestSelfImage(t *testing.T) {
	addr := startDistribution(t, "", "")
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(bundle, []byte("-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"VERSION=test", "CA_BUNDLE=" + bundle, "IMAGE_CONTEXT=" + filepath.Join(dir, "context")}
	out := makeImage(t, append(common, "IMAGE="+addr+"/acme/conveyor")...)
	ref, err := name.NewDigest(out)
	if err != nil {
		t.Fatalf("make image printed %q, want only repo@sha256:…: %v", out, err)
	}

	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	var platforms []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			t.Fatalf("index entry %s has no platform", m.Digest)
		}
		platforms = append(platforms, m.Platform.String())
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(m.Platform.String(), func(t *testing.T) {
			bin := checkSelfImage(t, img, machines[m.Platform.Architecture], bundle)
			if m.Platform.Architecture == runtime.GOARCH && runtime.GOOS == "linux" && bin != nil {
				runSelfBinary(t, bin)
			}
		})
	}
	slices.Sort(platforms)
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("index platforms = %v, want %v", platforms, want)
	}

	layout := filepath.Join(dir, "layout")
	again := makeImage(t, append(common, "IMAGE_LAYOUT="+layout)...)
	if want := layout + "@" + ref.DigestStr(); again != want {
		t.Errorf("built again into a layout: %s, want the same digest (%s)", again, want)
	}
	if data, err := os.ReadFile(filepath.Join(layout, "index.json")); err != nil || !strings.Contains(string(data), ref.DigestStr()) {
		t.Errorf("the layout's index.json does not name %s (%v):\n%s", ref.DigestStr(), err, data)
	}
}

// checkSelfImage checks one platform's image: its config, and the files
// its layers hold.
func checkSelfImage(t *testing.T, img v1.Image, machine elf.Machine, bundle string) []byte {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User == "" || c.User == "0" || strings.HasPrefix(c.User, "0:") || c.User == "root" {
		t.Errorf("user = %q, want a non-root user", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"conveyor"}) {
		t.Errorf("entrypoint = %q, want [conveyor]", c.Entrypoint)
	}
	if len(c.Cmd) == 0 || c.Cmd[0] != "dev" || !slices.Contains(c.Cmd, "0.0.0.0:8080") || !slices.Contains(c.Cmd, "/data") {
		t.Errorf("cmd = %q, want dev on 0.0.0.0:8080 with its data in /data", c.Cmd)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v, want 8080/tcp", c.ExposedPorts)
	}
	if !slices.Contains(c.Env, "PATH=/usr/local/bin") {
		t.Errorf("env = %q, want PATH=/usr/local/bin so the entrypoint resolves", c.Env)
	}
	files := imageFiles(t, img)
	bin, ok := files["usr/local/bin/conveyor"]
	if !ok {
		t.Errorf("no /usr/local/bin/conveyor in the layers (files: %v)", names(files))
		return nil
	}
	if bin.hdr.Mode&0o111 == 0 {
		t.Errorf("conveyor's mode is %o, want executable", bin.hdr.Mode)
	}
	f, err := elf.NewFile(bytes.NewReader(bin.data))
	if err != nil {
		t.Errorf("conveyor is not an ELF binary: %v", err)
		return nil
	}
	if f.Machine != machine {
		t.Errorf("conveyor is built for %v, want %v", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("conveyor asks for a dynamic loader: a scratch image has none (build it with CGO_ENABLED=0)")
		}
	}
	want, _ := os.ReadFile(bundle)
	if ca := files["etc/ssl/certs/ca-certificates.crt"]; ca == nil || !bytes.Equal(ca.data, want) {
		t.Errorf("the CA bundle in the image is not CA_BUNDLE")
	}
	if d := files["data"]; d == nil || d.hdr.Typeflag != tar.TypeDir || d.hdr.Uid != 65532 {
		t.Errorf("/data = %+v, want a directory owned by the image's user (65532)", d)
	}
	return bin.data
}

// runSelfBinary runs the image's binary for this machine: it starts, and
// says the version make stamped.
func runSelfBinary(t *testing.T, bin []byte) {
	path := filepath.Join(t.TempDir(), "conveyor")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test") {
		t.Errorf("conveyor version = %q, %v; want the stamped version \"test\"", out, err)
	}
}

type imageFile struct {
	hdr  *tar.Header
	data []byte
}

// imageFiles reads every layer's entries by path (without "./" or "/").
func imageFiles(t *testing.T, img v1.Image) map[string]*imageFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*imageFile{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.Trim(strings.TrimPrefix(hdr.Name, "./"), "/")] = &imageFile{hdr: hdr, data: data}
		}
		rc.Close()
	}
	return files
}

func names(files map[string]*imageFile) []string {
	var out []string
	for n := range files {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
