package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatchesPush(t *testing.T) {
	web := &App{Source: Source{Repo: "https://github.com/acme/web", Branch: "main", Paths: []string{"src/**", "Dockerfile", "**/*.go"}}}
	anyFile := &App{Source: Source{Repo: "acme/api", Branch: "release"}}
	local := &App{Source: Source{Repo: "/srv/git/web", Branch: "main"}}
	fileURL := &App{Source: Source{Repo: "file:///srv/git/web/", Branch: "main"}}
	ghe := &App{Source: Source{Repo: "https://git.example.com/acme/web.git", Branch: "main"}}
	for _, tc := range []struct {
		name   string
		app    *App
		repo   string
		branch string
		files  []string
		want   bool
	}{
		{"same URL", web, "https://github.com/acme/web", "main", []string{"src/main.go"}, true},
		{"case and .git ignored", web, "https://GitHub.com/Acme/Web.git", "main", []string{"src/main.go"}, true},
		{"owner/name", web, "acme/web", "main", []string{"Dockerfile"}, true},
		{"scp-style ssh", web, "git@github.com:acme/web.git", "main", []string{"Dockerfile"}, true},
		{"ssh URL", web, "ssh://git@github.com/acme/web", "main", []string{"Dockerfile"}, true},
		{"full ref", web, "acme/web", "refs/heads/main", []string{"Dockerfile"}, true},
		{"other branch", web, "acme/web", "develop", []string{"Dockerfile"}, false},
		{"other repo", web, "acme/website", "main", []string{"Dockerfile"}, false},
		{"other host", web, "https://gitlab.com/acme/web", "main", []string{"Dockerfile"}, false},
		{"no changed files listed", web, "acme/web", "main", nil, true},
		{"unrelated files", web, "acme/web", "main", []string{"README.md", "docs/Dockerfile"}, false},
		{"** matches deep files", web, "acme/web", "main", []string{"README.md", "src/a/b/c.txt"}, true},
		{"**/*.go matches at the root", web, "acme/web", "main", []string{"main.go"}, true},
		{"**/*.go matches deep", web, "acme/web", "main", []string{"cmd/x/main.go"}, true},
		{"leading ./ in a changed file", web, "acme/web", "main", []string{"./Dockerfile"}, true},
		{"no paths means any file", anyFile, "https://github.com/ACME/api", "release", []string{"README.md"}, true},
		{"owner/name against a GHE URL", ghe, "acme/web", "main", nil, true},
		{"GHE host differs", ghe, "https://github.com/acme/web", "main", nil, false},
		{"local path", local, "/srv/git/web", "main", nil, true},
		{"local path cleaned", local, "/srv/git/../git/web/", "main", nil, true},
		{"file URL against a path", local, "file:///srv/git/web", "main", nil, true},
		{"path against a file URL", fileURL, "/srv/git/web", "main", nil, true},
		{"other local path", local, "/srv/git/web2", "main", nil, false},
		{"local never matches remote", local, "srv/git", "main", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.app.MatchesPush(tc.repo, tc.branch, tc.files); got != tc.want {
				t.Errorf("MatchesPush(%q, %q, %q) = %v, want %v", tc.repo, tc.branch, tc.files, got, tc.want)
			}
		})
	}
}

func TestAcceptsTag(t *testing.T) {
	none := &App{}
	glob := &App{Tags: TagPolicy{Glob: []string{"sha-*", "main-[0-9]*"}}}
	sv := &App{Tags: TagPolicy{Semver: ">=1.0.0 <2.0.0"}}
	both := &App{Tags: TagPolicy{Glob: []string{"sha-*"}, Semver: "^1.2"}}
	for _, tc := range []struct {
		name string
		app  *App
		tag  string
		want bool
	}{
		{"no policy, any tag", none, "latest", true},
		{"no policy, digest-only push", none, "", true},
		{"glob match", glob, "sha-0a1b2c", true},
		{"second glob", glob, "main-42", true},
		{"glob miss", glob, "latest", false},
		{"policy refuses digest-only push", glob, "", false},
		{"semver in range", sv, "1.4.2", true},
		{"semver with v prefix", sv, "v1.0.0", true},
		{"semver upper bound", sv, "2.0.0", false},
		{"semver below", sv, "0.9.9", false},
		{"pre-release excluded", sv, "1.5.0-rc.1", false},
		{"partial version is not semver", sv, "1.2", false},
		{"not a version", sv, "sha-abc", false},
		{"either glob", both, "sha-abc", true},
		{"or semver", both, "1.9.0", true},
		{"neither", both, "2.0.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.app.AcceptsTag(tc.tag); got != tc.want {
				t.Errorf("AcceptsTag(%q) = %v, want %v", tc.tag, got, tc.want)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	cfg := &Config{Apps: []App{
		{Name: "web", Environments: []Environment{{Name: "dev"}, {Name: "staging"}, {Name: "prod"}}},
		{Name: "api"},
	}}
	app, ok := cfg.App("web")
	if !ok || app != &cfg.Apps[0] {
		t.Fatalf("App(web) = %p, %v; want &Apps[0]", app, ok)
	}
	if _, ok := cfg.App("nope"); ok {
		t.Errorf("App(nope) found")
	}
	type step struct {
		Env   string
		Index int
		Found bool
		Next  string
	}
	var got []step
	for _, name := range []string{"dev", "staging", "prod", "qa"} {
		e, i, found := app.Env(name)
		s := step{Index: i, Found: found}
		if found {
			s.Env = e.Name
		}
		if n, ok := app.NextEnv(name); ok {
			s.Next = n.Name
		}
		got = append(got, s)
	}
	want := []step{
		{Env: "dev", Index: 0, Found: true, Next: "staging"},
		{Env: "staging", Index: 1, Found: true, Next: "prod"},
		{Env: "prod", Index: 2, Found: true},
		{Index: -1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Env/NextEnv mismatch (-want +got):\n%s", diff)
	}
}
