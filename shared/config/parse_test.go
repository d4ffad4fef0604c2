package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseValid(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		File:    filepath.Join("testdata", "valid.yaml"),
		Version: 1,
		GitOps:  GitOps{Branch: "main", Author: Author{Name: "Conveyor Bot", Email: "bot@example.com"}},
		Apps: []App{
			{
				Name:   "web",
				Source: Source{Repo: "https://github.com/acme/web", Branch: "main", Paths: []string{"src/**", "Dockerfile"}},
				Image:  "registry.example.com/acme/web",
				Tags:   TagPolicy{Glob: []string{"sha-*"}, Semver: ">=1.0.0 <2.0.0"},
				Build: Build{
					Context:    ".",
					Dockerfile: "build/Dockerfile",
					Args:       map[string]string{"VERSION": "1.2", "DEBUG": "false"},
				},
				Environments: []Environment{
					{
						Name: "dev", Path: "envs/dev", Strategy: StrategyKustomize,
						Release: ReleaseAuto, Approvals: 0, MergeMethod: MergeMerge,
					},
					{
						Name: "staging", Path: "envs/staging/values.yaml", Strategy: StrategyHelm,
						Helm:    Helm{Repository: "image.repository", Digest: "image.digest", Tag: "image.tag"},
						KeepTag: true, Release: ReleaseManual, Reviewers: []string{"alice", "acme/release-team"},
						Approvals: 1, MergeMethod: MergeSquash, Verify: true,
					},
					{
						Name: "prod", Path: "envs/prod/deployment.yaml", Strategy: StrategyRaw, Container: "web",
						Release: ReleaseManual, Reviewers: []string{"alice", "bob", "acme/sre"}, Approvals: 2,
						MergeMethod: MergeMerge,
						Freeze: []Freeze{
							{Cron: "0 18 * * FRI", Duration: 64 * time.Hour, Timezone: "Europe/Paris"},
							{Cron: "0 0 24 DEC *", Duration: 192 * time.Hour, Timezone: "UTC"},
						},
					},
				},
			},
			{
				Name:   "api",
				Source: Source{Repo: "acme/api", Branch: "release"},
				Image:  "ghcr.io/acme/api",
				Build: Build{
					Context: "services/api",
					Base:    "gcr.io/distroless/static:nonroot",
					Files: []File{
						{Src: "bin/server", Dst: "/app/server"},
						{Src: "config", Dst: "/app/config"},
					},
					Entrypoint: []string{"/app/server"},
					Cmd:        []string{"--port=8080"},
					Env:        map[string]string{"PORT": "8080"},
					User:       "65532",
					Workdir:    "/app",
					Labels:     map[string]string{"team": "api"},
					Expose:     []string{"8080/tcp", "9090"},
				},
				Environments: []Environment{
					{Name: "dev", Path: "apps/api/dev", Strategy: StrategyMarker, Release: ReleaseAuto, MergeMethod: MergeMerge},
					{Name: "prod", Path: "apps/api/prod", Container: "api", Release: ReleaseManual, Reviewers: []string{"acme/api-owners"}, Approvals: 1, MergeMethod: MergeMerge},
				},
			},
		},
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreTypes(Pos{})); diff != "" {
		t.Errorf("Load(valid.yaml) mismatch (-want +got):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() of a parsed config: %v", err)
	}

	// Positions point at the value each struct was decoded from.
	gotPos := []Pos{cfg.Pos, cfg.GitOps.Author.Pos, cfg.Apps[0].Pos, cfg.Apps[0].Source.Pos, cfg.Apps[0].Environments[1].Pos,
		cfg.Apps[0].Environments[1].Helm.Pos, cfg.Apps[0].Environments[2].Freeze[1].Pos, cfg.Apps[1].Build.Files[1].Pos, cfg.Apps[1].Tags.Pos}
	wantPos := []Pos{
		{Line: 2, Column: 1, Path: ""},
		{Line: 6, Column: 5, Path: "gitops.author"},
		{Line: 10, Column: 5, Path: "apps[0]"},
		{Line: 12, Column: 7, Path: "apps[0].source"},
		{Line: 27, Column: 9, Path: "apps[0].environments[1]"},
		{Line: 31, Column: 11, Path: "apps[0].environments[1].helm"},
		{Line: 47, Column: 13, Path: "apps[0].environments[2].freeze[1]"},
		{Line: 60, Column: 11, Path: "apps[1].build.files[1]"},
		{Path: "apps[1].tags"},
	}
	if diff := cmp.Diff(wantPos, gotPos); diff != "" {
		t.Errorf("positions mismatch (-want +got):\n%s", diff)
	}
	e := cfg.Errorf(cfg.Apps[0].Environments[1].Pos, "path %q: no such file", "envs/staging/values.yaml")
	if got, want := e.Error(), `testdata/valid.yaml:27:9: apps[0].environments[1]: path "envs/staging/values.yaml": no such file`; got != want {
		t.Errorf("Errorf() = %q, want %q", got, want)
	}
}

func TestParseDefaults(t *testing.T) {
	for _, tc := range []struct {
		file string
		want *Config
	}{
		{
			file: "minimal.yaml",
			want: &Config{
				Version: 1,
				GitOps:  GitOps{Branch: "main", Author: Author{Name: "Conveyor", Email: "conveyor@localhost"}},
				Apps: []App{{
					Name:   "hello",
					Source: Source{Repo: "/srv/git/hello", Branch: "main"},
					Image:  "localhost:5000/hello",
					Build:  Build{Context: ".", Dockerfile: "Dockerfile"},
					Environments: []Environment{
						{Name: "dev", Path: "envs/dev", Container: "hello", Release: ReleaseManual, Reviewers: []string{"alice"}, Approvals: 1, MergeMethod: MergeMerge},
					},
				}},
			},
		},
		{
			file: "anchors.yaml",
			want: &Config{
				Version: 1,
				GitOps:  GitOps{Branch: "main", Author: Author{Name: "Conveyor", Email: "conveyor@localhost"}},
				Apps: []App{{
					Name:   "web",
					Source: Source{Repo: "file:///srv/git/web", Branch: "main"},
					Image:  "acme/web",
					Build:  Build{Context: ".", Dockerfile: "Dockerfile"},
					Environments: []Environment{
						{Name: "dev", Path: "envs/dev", Strategy: StrategyKustomize, Release: ReleaseAuto, MergeMethod: MergeMerge},
						{Name: "prod", Path: "envs/prod", Strategy: StrategyKustomize, Release: ReleaseManual, Reviewers: []string{"alice"}, Approvals: 1, MergeMethod: MergeMerge},
					},
				}},
			},
		},
		{
			// The pipeline's settle is every environment's default;
			// an environment's own wins, 0 included.
			file: "settle.yaml",
			want: &Config{
				Version: 1,
				GitOps:  GitOps{Branch: "main", Author: Author{Name: "Conveyor", Email: "conveyor@localhost"}},
				Settle:  2 * time.Minute,
				Apps: []App{{
					Name:   "web",
					Source: Source{Repo: "file:///srv/git/web", Branch: "main"},
					Image:  "acme/web",
					Build:  Build{Context: ".", Dockerfile: "Dockerfile", LatestOnly: true},
					Environments: []Environment{
						{Name: "dev", Path: "envs/dev", Container: "web", Release: ReleaseAuto, MergeMethod: MergeMerge},
						{Name: "prod", Path: "envs/prod", Container: "web", Release: ReleaseManual, Reviewers: []string{"alice"}, Approvals: 1, MergeMethod: MergeMerge, Settle: 2 * time.Minute},
					},
				}},
			},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse("conveyor.yaml", data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tc.want.File = "conveyor.yaml"
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreTypes(Pos{})); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// head is a valid start of a file that broken cases complete.
const head = "version: 1\napps:\n  - name: web\n    source: {repo: acme/web}\n    image: acme/web\n"

func TestParseSentinels(t *testing.T) {
	_, err := Parse("big.yaml", make([]byte, MaxSize+1))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(oversize) = %v, want ErrTooLarge", err)
	}
	_, err = Parse("bomb.yaml", []byte(aliasBomb()))
	if !errors.Is(err, ErrTooManyAliases) {
		t.Errorf("Parse(alias bomb) = %v, want ErrTooManyAliases", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	cfg := &Config{
		File:    "conveyor.yaml",
		Version: 1,
		GitOps:  GitOps{Branch: "main", Author: Author{Name: "Conveyor", Email: "conveyor@localhost"}},
		Apps: []App{{
			Pos:    Pos{Line: 3, Column: 5, Path: "apps[0]"},
			Name:   "web",
			Source: Source{Repo: "acme/web", Branch: "main"},
			Image:  "acme/web:latest",
			Build:  Build{Context: ".", Dockerfile: "Dockerfile"},
			Environments: []Environment{
				{Pos: Pos{Line: 9, Column: 9, Path: "apps[0].environments[0]"}, Name: "dev", Path: "envs/dev", Release: "sometimes", MergeMethod: MergeMerge},
				{Pos: Pos{Line: 10, Column: 9, Path: "apps[0].environments[1]"}, Name: "prod", Path: "envs/prod", Release: ReleaseManual, MergeMethod: MergeMerge},
			},
		}},
	}
	want := "conveyor.yaml:3:5: apps[0].image: must be an image repository without a tag, got \"acme/web:latest\": select tags with tags.glob or tags.semver\n" +
		"conveyor.yaml:9:9: apps[0].environments[0].release: must be \"auto\" or \"manual\", got \"sometimes\"\n" +
		"conveyor.yaml:10:9: apps[0].environments[1]: environment \"prod\" is released manually (the default) but lists no reviewers, " +
		"so anyone who can approve a pull request could release it: add reviewers: [user or org/team], or set release: auto"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
	}
}

// TestSourceRepoSchemes: plain http is a source only on loopback (a
// self-hosted forge beside the runtime); anywhere else it is refused.
func TestSourceRepoSchemes(t *testing.T) {
	for _, tt := range []struct {
		repo string
		ok   bool
	}{
		{"https://git.example.com/acme/web", true},
		{"http://127.0.0.1:3000/acme/web", true},
		{"http://[::1]:3000/acme/web", true},
		{"http://localhost/acme/web", true},
		{"http://example.com/acme/web", false},
		{"http://127.0.0.1.example.com/acme/web", false},
		{"http://10.0.0.1/acme/web", false},
	} {
		in := "version: 1\napps:\n  - name: web\n    source: {repo: \"" + tt.repo + "\"}\n    image: acme/web\n    environments: [{name: dev, path: envs/dev, release: auto}]\n"
		_, err := Parse("conveyor.yaml", []byte(in))
		if (err == nil) != tt.ok {
			t.Errorf("source.repo %s: err = %v, want accepted %v", tt.repo, err, tt.ok)
		}
	}
}
