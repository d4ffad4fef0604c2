package manifest

import (
	"errors"
	"strings"
	"testing"
)

func TestEditErrors(t *testing.T) {
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: ghcr.io/acme/api:v1\n"
	bomb := "a: &a [x, x]\n" + strings.Repeat("b: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n", 11)
	tests := []struct {
		name   string
		file   string
		data   string
		target Target
		ref    Ref
		want   error
		msg    string
	}{
		{
			name: "no container", file: "envs/dev/deploy.yaml", data: deploy,
			target: Target{App: "web"}, ref: webRef, want: ErrTargetNotFound,
			msg: `envs/dev/deploy.yaml: spec.template.spec.containers[name=web]: no container named "web"`,
		},
		{
			name: "no container with the repository", file: "deploy.yaml", data: deploy,
			target: Target{Container: "api", MatchRepository: true}, ref: webRef, want: ErrTargetNotFound,
			msg: `deploy.yaml: spec.template.spec.containers[name=api]: no container named "api" with an image of ghcr.io/acme/web`,
		},
		{
			name: "no workload", file: "svc.yaml", data: "apiVersion: v1\nkind: Service\n",
			target: Target{App: "web"}, ref: webRef, want: ErrTargetNotFound,
			msg: `svc.yaml: no workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)`,
		},
		{
			name: "two containers of one name", file: "pod.yaml",
			data:   "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: web, image: a}\n  initContainers:\n  - {name: web, image: b}\n",
			target: Target{App: "web"}, ref: webRef, want: ErrAmbiguous,
			msg: `pod.yaml: spec.containers[name=web]: 2 containers named "web" in Pod "p"`,
		},
		{
			name: "two kustomize entries", file: "kustomization.yaml",
			data:   "images:\n- name: ghcr.io/acme/web\n- name: docker.io/x\n  newName: ghcr.io/acme/web\n",
			target: Target{}, ref: webRef, want: ErrAmbiguous,
			msg: `kustomization.yaml: images[name=ghcr.io/acme/web]: 2 entries match "ghcr.io/acme/web"`,
		},
		{
			name: "duplicate key", file: "values.yaml", data: "image:\n  repository: a\n  repository: b\n",
			target: Target{HelmRepository: "image.repository", HelmDigest: "image.digest"}, ref: webRef, want: ErrAmbiguous,
			msg: `values.yaml: line 3: key "repository" already defined at line 2`,
		},
		{
			name: "no marker", file: "values.yaml", data: "image: x # conveyor:image api\n",
			target: Target{Strategy: StrategyMarker, App: "web"}, ref: webRef, want: ErrTargetNotFound,
			msg: `values.yaml: conveyor:image web: no marker comment for app "web"`,
		},
		{
			name: "tag marker alone", file: "values.yaml", data: "tag: v1 # conveyor:image web:tag\n",
			target: Target{App: "web"}, ref: webRef, want: ErrTargetNotFound,
			msg: `values.yaml: conveyor:image web: no marker writes the digest; a tag alone is never written`,
		},
		{
			name: "marker without a value", file: "values.yaml", data: "# conveyor:image web\n",
			target: Target{App: "web"}, ref: webRef, want: ErrUnsupported,
			msg: `values.yaml: conveyor:image web: line 1: no image reference before the marker`,
		},
		{
			name: "tag-only ref", file: "deploy.yaml", data: deploy,
			target: Target{App: "web"}, ref: Ref{Repository: "ghcr.io/acme/web", Tag: "latest"}, want: ErrNoDigest,
			msg: `checking ref "ghcr.io/acme/web:latest": reference has no digest: a mutable tag is never written`,
		},
		{
			name: "bad digest", file: "deploy.yaml", data: deploy,
			target: Target{App: "web"}, ref: Ref{Repository: "ghcr.io/acme/web", Digest: "sha256:abc"}, want: ErrInvalidRef,
			msg: `checking ref "ghcr.io/acme/web@sha256:abc": invalid image reference: digest "sha256:abc" is not sha256:<64 lowercase hex>`,
		},
		{
			// A missing parent is added (see the helmrelease-insert-image
			// golden case); a parent holding a string cannot be.
			name: "helm parent not a mapping", file: "values.yaml", data: "app: web\n",
			target: Target{HelmRepository: "app.image.repository", HelmDigest: "app.image.digest"}, ref: webRef, want: ErrTargetNotFound,
			msg: `values.yaml: app.image.repository: parent "app" is not a mapping`,
		},
		{
			name: "helm parent not a mapping", file: "values.yaml", data: "image: nginx\n",
			target: Target{HelmRepository: "image.repository", HelmDigest: "image.digest"}, ref: webRef, want: ErrTargetNotFound,
			msg: `values.yaml: image.repository: parent "image" is not a mapping`,
		},
		{
			name: "helm tag path without tag", file: "values.yaml", data: "image:\n  tag: v1\n",
			target: Target{HelmRepository: "image.repository", HelmTag: "image.tag"}, ref: Ref{Repository: "ghcr.io/acme/web", Digest: newDigest}, want: ErrInvalidTarget,
			msg: `values.yaml: image.tag: a tag path without a digest path needs a ref with a tag`,
		},
		{
			name: "helm block scalar", file: "values.yaml", data: "image: |\n  x\n",
			target: Target{HelmImage: "image"}, ref: webRef, want: ErrUnsupported,
			msg: `values.yaml: image: block scalars (| or >) are not supported (line 1)`,
		},
		{
			name: "helm alias value", file: "values.yaml", data: "base: &b x\nimage: *b\n",
			target: Target{HelmImage: "image"}, ref: webRef, want: ErrUnsupported,
			msg: `values.yaml: image: value is an alias (*b); edit its anchor`,
		},
		{
			name: "oversize", file: "big.yaml", data: "a: " + strings.Repeat("x", MaxFileSize),
			target: Target{App: "web"}, ref: webRef, want: ErrTooLarge,
			msg: `big.yaml: 1048579 bytes, over the limit of 1048576`,
		},
		{
			name: "alias bomb", file: "bomb.yaml", data: bomb,
			target: Target{HelmImage: "image"}, ref: webRef, want: ErrTooManyAliases,
			msg: `bomb.yaml: more than 100 aliases: refusing a possible alias bomb`,
		},
		{
			name: "invalid yaml", file: "values.yaml", data: "a: [\n",
			target: Target{HelmImage: "image"}, ref: webRef, want: ErrUnsupported,
			msg: `values.yaml: parsing YAML: yaml: line 1: did not find expected node content`,
		},
		{
			name: "unknown strategy", file: "values.yaml", data: "a: 1\n",
			target: Target{Strategy: "sed"}, ref: webRef, want: ErrInvalidTarget,
			msg: `invalid target: unknown strategy "sed"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, changes, err := Edit(tc.file, []byte(tc.data), tc.target, tc.ref)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Edit error = %v, want %v", err, tc.want)
			}
			if err.Error() != tc.msg {
				t.Errorf("Edit error\n got: %s\nwant: %s", err, tc.msg)
			}
			if out != nil || changes != nil {
				t.Errorf("Edit returned output with an error")
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  error
	}{
		{"ghcr.io/acme/web@" + newDigest, Ref{Repository: "ghcr.io/acme/web", Digest: newDigest}, nil},
		{"localhost:5000/web:v1@" + newDigest, Ref{Repository: "localhost:5000/web", Tag: "v1", Digest: newDigest}, nil},
		{"ghcr.io/acme/web:v1", Ref{}, ErrNoDigest},
		{"ghcr.io/acme/web", Ref{}, ErrNoDigest},
		{"Web@" + newDigest, Ref{}, ErrInvalidRef},
		{"web@sha256:XYZ", Ref{}, ErrInvalidRef},
		{"web:bad tag@" + newDigest, Ref{}, ErrInvalidRef},
	}
	for _, tc := range tests {
		got, err := ParseRef(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v, %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("ParseRef(%q).String() = %q", tc.in, got.String())
		}
	}
	if _, err := ParseRef("ghcr.io/acme/web:v1"); err == nil || err.Error() != `parsing ref "ghcr.io/acme/web:v1": reference has no digest: a mutable tag is never written` {
		t.Errorf("ParseRef of a tag-only ref: %v", err)
	}
}

func TestNormalizeRepository(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/nginx:1.25":    "nginx",
		"index.docker.io/library/nginx":   "nginx",
		"library/nginx":                   "nginx",
		"docker.io/acme/web@" + newDigest: "acme/web",
		"localhost:5000/web:v1":           "localhost:5000/web",
		"ghcr.io/library/x":               "ghcr.io/library/x",
	} {
		if got := normalizeRepository(in); got != want {
			t.Errorf("normalizeRepository(%q) = %q, want %q", in, got, want)
		}
	}
}
