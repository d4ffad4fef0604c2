package onboard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/google/go-cmp/cmp"
)

func TestCheckRepo(t *testing.T) {
	const head = "version: 1\napps:\n  - name: api\n    source: {repo: acme/api}\n    image: registry.example.com/acme/api\n    environments:\n"
	tests := []struct {
		name, envs string
		want       []string // "line field: message fragment"
	}{
		{"fits", "      - name: dev\n        path: envs/dev/api.yaml\n        release: auto\n", nil},
		{"a directory of manifests fits", "      - name: dev\n        path: envs/dev\n        strategy: raw\n        release: auto\n", nil},
		{"missing path", "      - name: dev\n        path: envs/dve/api.yaml\n        release: auto\n",
			[]string{`8 apps[0].environments[0].path: "envs/dve/api.yaml" does not exist in the repository (envs holds [dev production qa]): create it, or fix the path`}},
		{"missing one of paths", "      - name: dev\n        paths:\n          - envs/dev/api.yaml\n          - envs/prod/api.yaml\n        release: auto\n",
			[]string{`10 apps[0].environments[0].paths[1]: "envs/prod/api.yaml" does not exist`}},
		{"kustomize without a kustomization", "      - name: dev\n        path: envs/dev\n        strategy: kustomize\n        release: auto\n",
			[]string{`8 apps[0].environments[0].path: "envs/dev" holds no kustomization.yaml: add one with images:, or set strategy to raw or helm`}},
		{"helm on a directory without values", "      - name: dev\n        path: envs/dev\n        strategy: helm\n        helm: {image: image}\n        release: auto\n",
			[]string{`8 apps[0].environments[0].path: "envs/dev" holds no values.yaml`}},
		{"no such container", "      - name: dev\n        path: envs/dev/api.yaml\n        container: server\n        release: auto\n",
			[]string{`7 apps[0].environments[0].strategy: envs/dev/api.yaml: spec.template.spec.containers[name=server]: no container named "server"`}},
	}
	fsys := os.DirFS(filepath.Join("testdata", "raw"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(head + tt.envs)
			cfg, err := config.Parse("conveyor.yaml", data)
			if err != nil {
				t.Fatalf("the test's config does not parse: %v", err)
			}
			var got []string
			for _, e := range CheckRepo(fsys, cfg, data) {
				got = append(got, e.Error())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("CheckRepo = %q, want %d problem(s) like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				line, rest, _ := strings.Cut(w, " ")
				prefix := "conveyor.yaml:" + line + ":"
				if !strings.HasPrefix(got[i], prefix) || !strings.Contains(got[i], rest) {
					t.Errorf("problem %d = %q\nwant it at %s and holding %q", i, got[i], prefix, rest)
				}
			}
		})
	}
}

func TestCheckRepoAcceptsEveryProposal(t *testing.T) {
	for _, repo := range []string{"kustomize", "helm", "raw"} {
		fsys := os.DirFS(filepath.Join("testdata", repo))
		cfg, data := proposeFile(t, fsys)
		var got []string
		for _, e := range CheckRepo(fsys, cfg, data) {
			got = append(got, e.Error())
		}
		if diff := cmp.Diff([]string(nil), got); diff != "" {
			t.Errorf("%s: CheckRepo of init's own proposal (-want +got):\n%s", repo, diff)
		}
	}
}
