package imagebuild

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// perArchContext holds one server binary per architecture.
var perArchContext = map[string]string{
	"bin/amd64/server": "amd64 binary",
	"bin/arm64/server": "arm64 binary, longer",
}

// platformBuild builds recipe with platforms selected and returns each
// platform's image by its platform string.
func platformBuild(t *testing.T, reg *testRegistry, files map[string]string, recipe *Recipe, repo string, platforms []string) (*Result, map[string]v1.Image, error) {
	t.Helper()
	ps, err := ParsePlatforms(platforms)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeContext(t, files, time.Now())
	res, err := Build(context.Background(), Options{ContextDir: dir, Recipe: recipe, Repository: reg.repo(t, repo),
		SourceURL: "https://github.com/acme/shop", Revision: revision, Created: commitTime, Keychain: authn.NewMultiKeychain(),
		Platforms: ps})
	if err != nil {
		return nil, nil, err
	}
	out := map[string]v1.Image{}
	ref := reg.repo(t, repo).Digest(res.Digest.String())
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		out[cf.Platform().String()] = img
		return res, out, nil
	}
	idx, _ := desc.ImageIndex()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		out[d.Platform.String()] = img
	}
	return res, out, nil
}

// fileIn returns the content of name in img's last layer.
func fileIn(t *testing.T, img v1.Image, name string) string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ls[len(ls)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the last layer: %v", name, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}

func lastDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	h, err := ls[len(ls)-1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBuildPerPlatformContent(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBaseIndex(t, "base/multi")
	parse := func(df string) *Recipe {
		r, err := ParseDockerfile("Dockerfile", strings.NewReader(df), nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	spec, err := RecipeFromSpec(Spec{Base: "scratch", Files: []File{{Src: "bin/${TARGETARCH}/server", Dst: "/srv/server"}},
		Env: map[string]string{"ARCH": "$TARGETARCH"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		recipe    *Recipe
		platforms []string
		want      map[string]string // platform → /srv/server content
	}{
		{"dockerfile with ARG", parse("FROM " + base + "\nARG TARGETARCH\nCOPY bin/${TARGETARCH}/server /srv/server\n"),
			nil, map[string]string{"linux/amd64": "amd64 binary", "linux/arm64/v8": "arm64 binary, longer"}},
		{"dockerfile without ARG, ARG default overridden", parse("FROM " + base + "\nARG TARGETOS=plan9\nCOPY bin/$TARGETARCH/server /srv/${TARGETOS}/server\n"),
			nil, map[string]string{"linux/amd64": "amd64 binary", "linux/arm64/v8": "arm64 binary, longer"}},
		{"platforms select one of the base's", parse("FROM " + base + "\nCOPY bin/${TARGETARCH}/server /srv/server\n"),
			[]string{"linux/arm64"}, map[string]string{"linux/arm64/v8": "arm64 binary, longer"}},
		{"spec from scratch builds an index of the listed platforms", spec,
			[]string{"linux/amd64", "linux/arm64"}, map[string]string{"linux/amd64": "amd64 binary", "linux/arm64": "arm64 binary, longer"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := "acme/per-platform-" + string(rune('a'+i))
			res, images, err := platformBuild(t, reg, perArchContext, tt.recipe, repo, tt.platforms)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			layers := map[v1.Hash]bool{}
			for p, img := range images {
				name := "srv/server"
				if strings.Contains(tt.name, "ARG default") {
					name = "srv/linux/server"
				}
				got[p] = fileIn(t, img, name)
				layers[lastDigest(t, img)] = true
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("binary per platform (-want +got):\n%s", diff)
			}
			if len(layers) != len(tt.want) {
				t.Errorf("%d distinct layers for %d platforms", len(layers), len(tt.want))
			}
			// Same inputs, another registry: the same digest.
			again, _, err := platformBuild(t, newRegistry(t), perArchContext, tt.recipe, repo, tt.platforms)
			if err != nil {
				t.Fatal(err)
			}
			if again.Digest != res.Digest {
				t.Errorf("rebuild gave %s, first build %s", again.Digest, res.Digest)
			}
		})
	}
}

func TestBuildScratchSpecEnvPerPlatform(t *testing.T) {
	reg := newRegistry(t)
	spec, err := RecipeFromSpec(Spec{Base: "scratch", Files: []File{{Src: "bin/${TARGETARCH}/server", Dst: "/srv/server"}},
		Env: map[string]string{"ARCH": "${TARGETARCH}"}})
	if err != nil {
		t.Fatal(err)
	}
	_, images, err := platformBuild(t, reg, perArchContext, spec, "acme/env", []string{"linux/amd64", "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	for p, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		want := "ARCH=" + strings.TrimPrefix(p, "linux/")
		if len(cf.Config.Env) != 1 || cf.Config.Env[0] != want {
			t.Errorf("%s: env %v, want [%s]", p, cf.Config.Env, want)
		}
	}
}

func TestBuildMissingPlatformPathNamesIt(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBaseIndex(t, "base/multi")
	r, err := ParseDockerfile("Dockerfile", strings.NewReader("FROM "+base+"\nCOPY bin/${TARGETARCH}/server /srv/server\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"bin/amd64/server": "amd64 only"}
	_, _, err = platformBuild(t, reg, files, r, "acme/missing", nil)
	if err == nil {
		t.Fatal("built without bin/arm64/server")
	}
	want := `building for linux/arm64/v8: Dockerfile:2: COPY: build context path "bin/arm64/server": does not exist`
	if err.Error() != want || !IsPermanent(err) || !errors.Is(err, ErrInvalidContext) {
		t.Errorf("error %q (permanent %v), want %q, permanent", err, IsPermanent(err), want)
	}
	if _, err := remote.Head(reg.repo(t, "acme/missing").Tag("sha-" + revision[:12])); err == nil {
		t.Error("an image was pushed although a platform failed to plan")
	}
}

func TestBuildPlatformsTheBaseLacks(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBaseIndex(t, "base/multi")
	r, err := ParseDockerfile("Dockerfile", strings.NewReader("FROM "+base+"\nCOPY bin /bin\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = platformBuild(t, reg, perArchContext, r, "acme/lacks", []string{"linux/amd64", "linux/s390x"})
	if err == nil || !strings.Contains(err.Error(), "has no linux/s390x image") || !IsPermanent(err) {
		t.Errorf("error %v, want a permanent one naming linux/s390x", err)
	}
}
