package onboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// shape is what a test checks of a parsed environment.
type shape struct {
	Env, Strategy, Container string
	Paths                    []string
	Helm                     config.Helm
	Release                  config.Release
	Pinned                   string // what promote.Pinned reads there
}

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

func TestProposeFixtures(t *testing.T) {
	helm := config.Helm{Repository: "image.repository", Tag: "image.tag"}
	tests := []struct {
		repo string
		want map[string][]shape // app image → environments
	}{
		{"kustomize", map[string][]shape{
			"ghcr.io/stefanprodan/podinfo": {
				{Env: "dev", Strategy: "kustomize", Paths: []string{"apps/podinfo/overlays/dev"}, Release: "auto", Pinned: digest("1")},
				{Env: "staging", Strategy: "kustomize", Paths: []string{"apps/podinfo/overlays/staging"}, Release: "manual"},
				{Env: "production", Strategy: "kustomize", Paths: []string{"apps/podinfo/overlays/production"}, Release: "manual"},
			},
		}},
		{"helm", map[string][]shape{
			"registry.example.com/acme/web": {
				{Env: "dev", Strategy: "helm", Paths: []string{"charts/web/values-dev.yaml"}, Helm: helm, Release: "auto", Pinned: digest("2")},
				{Env: "staging", Strategy: "helm", Paths: []string{"charts/web/values-staging.yaml"}, Helm: helm, Release: "manual"},
				{Env: "prod", Strategy: "helm", Paths: []string{"charts/web/values-prod.yaml"}, Helm: helm, Release: "manual"},
			},
		}},
		{"raw", map[string][]shape{
			"registry.example.com/acme/api": {
				{Env: "dev", Strategy: "raw", Container: "api", Paths: []string{"envs/dev/api.yaml"}, Release: "auto", Pinned: digest("3")},
				{Env: "qa", Strategy: "raw", Container: "api", Paths: []string{"envs/qa/api.yaml"}, Release: "manual", Pinned: digest("3")},
				{Env: "production", Strategy: "raw", Container: "api", Paths: []string{"envs/production/api.yaml"}, Release: "manual", Pinned: digest("4")},
			},
			"registry.example.com/acme/worker": {
				{Env: "dev", Strategy: "raw", Container: "report", Paths: []string{"envs/dev/worker.yaml"}, Release: "auto"},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.repo, func(t *testing.T) {
			fsys := os.DirFS(filepath.Join("testdata", tt.repo))
			cfg, out := proposeFile(t, fsys)
			if !strings.HasPrefix(string(out), "# yaml-language-server: $schema="+config.SchemaURL+"\n") {
				t.Errorf("the file does not start with the schema line:\n%s", out)
			}
			got := map[string][]shape{}
			for i := range cfg.Apps {
				a := &cfg.Apps[i]
				for j := range a.Environments {
					e := &a.Environments[j]
					pinned, err := promote.Pinned(fsys, a, e)
					if err != nil {
						t.Errorf("%s/%s does not promote: %v", a.Name, e.Name, err)
					}
					got[a.Image] = append(got[a.Image], shape{Env: e.Name, Strategy: string(e.Strategy), Container: e.Container,
						Paths: e.Locations(), Helm: config.Helm{Repository: e.Helm.Repository, Digest: e.Helm.Digest, Tag: e.Helm.Tag, Image: e.Helm.Image},
						Release: e.Release, Pinned: pinned})
				}
			}
			// The decoder defaults a raw environment's container to the
			// app's name; a kustomize or helm one gets none.
			for img, envs := range tt.want {
				for i := range envs {
					if envs[i].Container == "" && envs[i].Strategy == "raw" {
						envs[i].Container = img[strings.LastIndex(img, "/")+1:]
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("proposal (-want +got):\n%s\nfile:\n%s", diff, out)
			}
		})
	}
}

// proposeFile runs the whole proposal on fsys and parses the result with
// the real config parser.
func proposeFile(t *testing.T, fsys fs.FS) (*config.Config, []byte) {
	t.Helper()
	found, err := Scan(fsys)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Propose(found, Options{Reviewers: []string{"alice", "acme/sre"}})
	if err != nil {
		t.Fatal(err)
	}
	out := Render(p, RenderOptions{})
	cfg, err := config.Parse("conveyor.yaml", out)
	if err != nil {
		t.Fatalf("the proposed file does not validate: %v\n%s", err, out)
	}
	return cfg, out
}

func TestImportRecordsWhatEachEnvironmentPins(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	fsys := os.DirFS(filepath.Join("testdata", "raw"))
	cfg, _ := proposeFile(t, fsys)
	head := Commit{Hash: "0123456789abcdef0123456789abcdef01234567", Author: "Ada", Subject: "the manifests before Conveyor"}

	got, err := Import(ctx, fsys, cfg, head, store)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	for _, im := range got {
		if im.Recorded {
			recorded[im.App+"/"+im.Env] = im.Digest
		}
	}
	want := map[string]string{"api/dev": digest("3"), "api/qa": digest("3"), "api/production": digest("4")}
	if diff := cmp.Diff(want, recorded); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
	// status and a promotion's "From" read the newest merged release of
	// the environment.
	rels, err := store.ListReleases(ctx, state.ReleaseFilter{App: "api", Env: "production", State: state.Merged})
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 1 || rels[0].Digest != digest("4") || rels[0].Image != "registry.example.com/acme/api" || rels[0].MergeCommit != head.Hash ||
		!strings.Contains(rels[0].Note, "imported by conveyor init") {
		t.Errorf("api/production records = %+v, want one merged release of %s from %s", rels, digest("4"), head.Hash)
	}

	again, err := Import(ctx, fsys, cfg, head, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range again {
		if im.Recorded {
			t.Errorf("a second import recorded %s/%s again", im.App, im.Env)
		}
	}
	all, err := store.ListReleases(ctx, state.ReleaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Errorf("after two imports the store holds %d releases, want 3", len(all))
	}
}

func TestProposeNeedsReviewersForManualEnvironments(t *testing.T) {
	found, err := Scan(os.DirFS(filepath.Join("testdata", "kustomize")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Propose(found, Options{})
	if !errors.Is(err, ErrNoReviewers) || !strings.Contains(err.Error(), "podinfo/staging, podinfo/production") {
		t.Errorf("Propose without reviewers = %v, want ErrNoReviewers naming podinfo/staging, podinfo/production", err)
	}
	if _, err := Propose(nil, Options{}); !errors.Is(err, ErrNoImages) {
		t.Errorf("Propose of nothing = %v, want ErrNoImages", err)
	}
}

func TestEnvironmentOrder(t *testing.T) {
	envs := []Env{{Name: "prod"}, {Name: "canary"}, {Name: "staging"}, {Name: "prod-eu"}, {Name: "qa"}, {Name: "development"}, {Name: "blue"}}
	sortEnvs(envs)
	var got []string
	for _, e := range envs {
		got = append(got, e.Name)
	}
	want := []string{"development", "qa", "staging", "prod", "prod-eu", "blue", "canary"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestEnvName(t *testing.T) {
	tests := []struct{ dir, hint, want string }{
		{"apps/podinfo/overlays/dev", "", "dev"},
		{"clusters/production/podinfo", "", "production"},
		{"deploy/eu-west", "", "eu-west"},
		{"charts/web", "Prod_EU", "prod-eu"},
		{".", "", "default"},
	}
	for _, tt := range tests {
		if got := envName(tt.dir, tt.hint); got != tt.want {
			t.Errorf("envName(%q, %q) = %q, want %q", tt.dir, tt.hint, got, tt.want)
		}
	}
}

func TestProposalsMatchTheSchema(t *testing.T) {
	for _, repo := range []string{"kustomize", "helm", "raw"} {
		_, out := proposeFile(t, os.DirFS(filepath.Join("testdata", repo)))
		if err := matchSchema(t, out); err != nil {
			t.Errorf("%s: init's proposal does not match the schema: %v", repo, err)
		}
	}
}

// matchSchema validates a conveyor.yaml against the JSON Schema.
func matchSchema(t *testing.T, out []byte) error {
	t.Helper()
	data, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(config.SchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(config.SchemaURL)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return schema.Validate(inst)
}
