package imagebuild

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestBuildConfigAndLayer(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base/alpine", v1.Platform{OS: "linux", Architecture: "amd64"})
	dir := writeContext(t, map[string]string{
		"bin/server":        "#!/bin/sh\necho hi\n",
		"bin/lib/helper.sh": "#!/bin/sh\n",
		"bin/current":       "->lib/helper.sh",
		"config.yaml":       "port: 8080\n",
	}, commitTime.Add(-1000*3600e9))
	dockerfile := `FROM ` + base + `
ENV APP=/srv/app PATH=/srv/bin:$PATH
LABEL team=payments
WORKDIR $APP
COPY --chown=1000 bin/ ./bin/
ADD config.yaml /etc/app/
USER 1000:1000
EXPOSE 8080 9090/udp
ENTRYPOINT ["/srv/app/bin/server"]
`
	res, err := buildDockerfile(t, dir, dockerfile, reg.repo(t, "acme/shop"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed || res.Tag != reg.host+"/acme/shop:sha-0123456789ab" || !strings.HasPrefix(res.Ref, reg.host+"/acme/shop@sha256:") {
		t.Errorf("Build() = %+v", res)
	}
	ref, err := name.ParseReference(res.Ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := v1.Config{
		Env:          []string{"PATH=/srv/bin:/usr/bin:/bin", "LANG=C", "APP=/srv/app"},
		Entrypoint:   []string{"/srv/app/bin/server"},
		WorkingDir:   "/srv/app",
		User:         "1000:1000",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9090/udp": {}},
		Labels: map[string]string{
			"team":                              "payments",
			"org.opencontainers.image.source":   "https://github.com/acme/shop",
			"org.opencontainers.image.revision": revision,
			"org.opencontainers.image.created":  "2025-03-14T15:09:26Z",
		},
	}
	if diff := cmp.Diff(wantConfig, cf.Config); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
	if !cf.Created.Time.Equal(commitTime) {
		t.Errorf("config created = %v, want %v", cf.Created, commitTime)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	wantAnnotations := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/acme/shop",
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.created":  "2025-03-14T15:09:26Z",
		"dev.conveyor.build.key":            m.Annotations["dev.conveyor.build.key"],
	}
	if key := m.Annotations["dev.conveyor.build.key"]; !regexp.MustCompile("^[0-9a-f]{64}$").MatchString(key) {
		t.Errorf("build key annotation %q, want 64 hex digits", key)
	}
	if diff := cmp.Diff(wantAnnotations, m.Annotations); diff != "" {
		t.Errorf("manifest annotations mismatch (-want +got):\n%s", diff)
	}
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || len(m.Layers) != 3 {
		t.Errorf("manifest: media type %s, %d layers; want OCI with base + 2 layers", m.MediaType, len(m.Layers))
	}
	var createdBy []string
	for _, h := range cf.History[len(cf.History)-8:] {
		createdBy = append(createdBy, h.CreatedBy)
	}
	if diff := cmp.Diff(strings.Split(strings.TrimSpace(dockerfile), "\n")[1:], createdBy); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	wantCopy := []string{
		"srv/ 5 0755 0:0 2025-03-14T15:09:26Z",
		"srv/app/ 5 0755 0:0 2025-03-14T15:09:26Z",
		"srv/app/bin/ 5 0755 1000:1000 2025-03-14T15:09:26Z",
		"srv/app/bin/current 2 0777 1000:1000 2025-03-14T15:09:26Z ->lib/helper.sh",
		"srv/app/bin/lib/ 5 0755 1000:1000 2025-03-14T15:09:26Z",
		"srv/app/bin/lib/helper.sh 0 0755 1000:1000 2025-03-14T15:09:26Z 10",
		"srv/app/bin/server 0 0755 1000:1000 2025-03-14T15:09:26Z 18",
	}
	if diff := cmp.Diff(wantCopy, tarListing(t, ls[1])); diff != "" {
		t.Errorf("COPY layer mismatch (-want +got):\n%s", diff)
	}
	wantAdd := []string{
		"etc/ 5 0755 0:0 2025-03-14T15:09:26Z",
		"etc/app/ 5 0755 0:0 2025-03-14T15:09:26Z",
		"etc/app/config.yaml 0 0644 0:0 2025-03-14T15:09:26Z 11",
	}
	if diff := cmp.Diff(wantAdd, tarListing(t, ls[2])); diff != "" {
		t.Errorf("ADD layer mismatch (-want +got):\n%s", diff)
	}
	if got := Describe(res); !strings.Contains(got, res.Ref) || !strings.Contains(got, "sha-0123456789ab") {
		t.Errorf("Describe() = %q", got)
	}
}

func TestBuildReportsProgress(t *testing.T) {
	reg := newRegistry(t)
	dir := writeContext(t, map[string]string{"a": "a", "b/c": "c"}, commitTime)
	recipe, err := ParseDockerfile("Dockerfile", strings.NewReader("FROM scratch\nCOPY a /\nCOPY b /b\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	_, err = Build(context.Background(), Options{
		ContextDir: dir, Recipe: recipe, Repository: reg.repo(t, "acme/progress"),
		Revision: revision, Created: commitTime, Keychain: authn.NewMultiKeychain(),
		Progress: func(p Progress) {
			if p.Bytes == p.Total {
				seen[fmt.Sprintf("%s %d/%d", p.Phase, p.Layer, p.Layers)] = true
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// One pass: the context is read while it is uploaded.
	want := map[string]bool{"uploading 1/2": true, "uploading 2/2": true}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("progress mismatch (-want +got):\n%s", diff)
	}
}
