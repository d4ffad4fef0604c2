package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEditInline covers layouts the golden trees do not: flow mappings,
// first keys of sequence items, files without a final line break, CRLF
// insertions, a byte order mark, empty values.
func TestEditInline(t *testing.T) {
	d := newDigest
	tests := []struct {
		name, file, in, want string
		target               Target
		ref                  Ref // webRef when zero
	}{
		{"kustomize newTag first key", "kustomization.yaml",
			"images:\n- newTag: v1 # x\n  name: ghcr.io/acme/web\n",
			"images:\n- name: ghcr.io/acme/web\n  digest: " + d + "\n", Target{}, Ref{}},
		{"kustomize flow entry", "kustomization.yaml",
			"images:\n- {name: web, newTag: v1}\n",
			"images:\n- {name: web, newName: ghcr.io/acme/web, digest: " + d + "}\n", Target{Repository: "web"}, Ref{}},
		{"kustomize no final break", "kustomization.yaml",
			"images:\n- name: ghcr.io/acme/web\n  newTag: v1",
			"images:\n- name: ghcr.io/acme/web\n  digest: " + d, Target{}, Ref{}},
		{"kustomize CRLF append", "kustomization.yaml",
			"resources:\r\n- a.yaml\r\n",
			"resources:\r\n- a.yaml\r\nimages:\r\n- name: ghcr.io/acme/web\r\n  digest: " + d + "\r\n", Target{}, Ref{}},
		{"kustomize empty images", "kustomization.yaml",
			"images:\nresources: []\n",
			"images:\n- name: ghcr.io/acme/web\n  digest: " + d + "\nresources: []\n", Target{}, Ref{}},
		{"kustomize entry matched by newName", "kustomization.yaml",
			"images:\n- newName: ghcr.io/acme/web\n",
			"images:\n- newName: ghcr.io/acme/web\n  digest: " + d + "\n", Target{}, Ref{}},
		{"kustomize empty file", "kustomization.yaml", "",
			"images:\n- name: ghcr.io/acme/web\n  digest: " + d + "\n", Target{}, Ref{}},
		{"kustomize docker hub", "kustomization.yaml",
			"images:\n- name: nginx\n  digest: ''\n",
			"images:\n- name: nginx\n  digest: '" + d + "'\n", Target{Repository: "nginx:1.25"}, Ref{Repository: "docker.io/library/nginx", Digest: d}},
		{"helm empty value", "values.yaml",
			"image:\n  digest:   # set by CI\n  repository: x\n",
			"image:\n  digest: " + d + "   # set by CI\n  repository: ghcr.io/acme/web\n",
			Target{HelmRepository: "image.repository", HelmDigest: "image.digest"}, Ref{}},
		{"helm flow parent", "values.yaml",
			"image: {repository: x}\n",
			"image: {repository: ghcr.io/acme/web, digest: " + d + "}\n",
			Target{HelmRepository: "image.repository", HelmDigest: "image.digest"}, Ref{}},
		{"helm tag without digest path", "values.yaml",
			"image:\n  repository: ghcr.io/acme/web\n  tag: \"v1\"\n",
			"image:\n  repository: ghcr.io/acme/web\n  tag: \"v1.4.0@" + d + "\"\n",
			Target{HelmRepository: "image.repository", HelmTag: "image.tag"}, Ref{}},
		{"helm insert after nested map", "values.yaml",
			"image:\n  repository: ghcr.io/acme/web\n  extra:\n    a: [1,\n      2]\n# trailing\n",
			"image:\n  repository: ghcr.io/acme/web\n  extra:\n    a: [1,\n      2]\n  digest: " + d + "\n# trailing\n",
			Target{HelmRepository: "image.repository", HelmDigest: "image.digest"}, Ref{}},
		{"raw with BOM and anchor", "pod.yaml",
			"\uFEFFkind: Pod\nspec:\n  containers:\n  - name: web\n    image: &img !!str ghcr.io/acme/web:v1 # c\n",
			"\uFEFFkind: Pod\nspec:\n  containers:\n  - name: web\n    image: &img !!str ghcr.io/acme/web@" + d + " # c\n",
			Target{App: "web"}, Ref{}},
		{"raw image missing", "pod.yaml",
			"kind: Pod\nspec:\n  containers:\n  - name: web\n",
			"kind: Pod\nspec:\n  containers:\n  - name: web\n    image: ghcr.io/acme/web@" + d + "\n",
			Target{App: "web"}, Ref{}},
		{"marker in a Dockerfile-like line", "env.yaml",
			"env:\n  - IMAGE=ghcr.io/acme/web:v1 # conveyor:image web\n",
			"env:\n  - IMAGE=ghcr.io/acme/web@" + d + " # conveyor:image web\n",
			Target{App: "web"}, Ref{}},
		{"plain tag that reads as a number", "values.yaml",
			"image:\n  repository: r\n  tag: 1.3 # conveyor:image web:tag\n  digest: \"\" # conveyor:image web:digest\n",
			"image:\n  repository: r\n  tag: \"1.40\" # conveyor:image web:tag\n  digest: \"" + d + "\" # conveyor:image web:digest\n",
			Target{App: "web"}, Ref{Repository: "r", Tag: "1.40", Digest: d}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.ref
			if ref == (Ref{}) {
				ref = webRef
			}
			out, changes, err := Edit(tc.file, []byte(tc.in), tc.target, ref)
			if err != nil {
				t.Fatalf("Edit: %v", err)
			}
			if diff := cmp.Diff(tc.want, string(out)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if len(changes) == 0 {
				t.Errorf("no changes reported")
			}
			again, more, err := Edit(tc.file, out, tc.target, ref)
			if err != nil || len(more) != 0 || string(again) != string(out) {
				t.Errorf("second Edit = %d changes, %v", len(more), err)
			}
		})
	}
}

func TestEditNoChange(t *testing.T) {
	in := []byte("kind: Pod\nspec:\n  containers:\n  - name: web\n    image: ghcr.io/acme/web@" + newDigest + "\n")
	out, changes, err := Edit("pod.yaml", in, Target{App: "web"}, webRef)
	if err != nil || changes != nil || &out[0] != &in[0] {
		t.Errorf("Edit of an up-to-date file = %d changes, %v; want the input back and no changes", len(changes), err)
	}
}
