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
	short := &App{Source: Source{Repo: "acme/web", Branch: "main"}}
	for _, tc := range []struct {
		name    string
		app     *App
		gitHost string
		push    PushTarget
		want    bool
	}{
		{"same URL", web, "", PushTarget{Repository: "https://github.com/acme/web", Branch: "main", ChangedFiles: []string{"src/main.go"}}, true},
		{"case and .git ignored", web, "", PushTarget{Repository: "https://GitHub.com/Acme/Web.git", Branch: "main", ChangedFiles: []string{"src/main.go"}}, true},
		{"owner/name", web, "", PushTarget{Repository: "acme/web", Branch: "main", ChangedFiles: []string{"Dockerfile"}}, true},
		{"owner/name and its clone URL", web, "", PushTarget{Repository: "acme/web", CloneURL: "https://github.com/acme/web.git", Branch: "main"}, true},
		{"scp-style ssh", web, "", PushTarget{Repository: "git@github.com:acme/web.git", Branch: "main", ChangedFiles: []string{"Dockerfile"}}, true},
		{"ssh URL", web, "", PushTarget{Repository: "ssh://git@github.com/acme/web", Branch: "main", ChangedFiles: []string{"Dockerfile"}}, true},
		{"full ref", web, "", PushTarget{Repository: "acme/web", Branch: "refs/heads/main", ChangedFiles: []string{"Dockerfile"}}, true},
		{"other branch", web, "", PushTarget{Repository: "acme/web", Branch: "develop", ChangedFiles: []string{"Dockerfile"}}, false},
		{"other repo", web, "", PushTarget{Repository: "acme/website", Branch: "main", ChangedFiles: []string{"Dockerfile"}}, false},
		{"other host", web, "", PushTarget{Repository: "https://gitlab.com/acme/web", Branch: "main", ChangedFiles: []string{"Dockerfile"}}, false},
		{"foreign clone URL", web, "", PushTarget{Repository: "acme/web", CloneURL: "https://evil.example/acme/web.git", Branch: "main"}, false},
		{"foreign clone URL, other port", web, "", PushTarget{Repository: "acme/web", CloneURL: "https://github.com:4443/acme/web.git", Branch: "main"}, false},
		{"clone URL of another repository", web, "", PushTarget{Repository: "acme/web", CloneURL: "https://github.com/evil/web.git", Branch: "main"}, false},
		{"local clone URL for a remote source", web, "", PushTarget{Repository: "acme/web", CloneURL: "file:///tmp/evil", Branch: "main"}, false},
		{"no changed files listed", web, "", PushTarget{Repository: "acme/web", Branch: "main"}, true},
		{"unrelated files", web, "", PushTarget{Repository: "acme/web", Branch: "main", ChangedFiles: []string{"README.md", "docs/Dockerfile"}}, false},
		{"** matches deep files", web, "", PushTarget{Repository: "acme/web", Branch: "main", ChangedFiles: []string{"README.md", "src/a/b/c.txt"}}, true},
		{"**/*.go matches at the root", web, "", PushTarget{Repository: "acme/web", Branch: "main", ChangedFiles: []string{"main.go"}}, true},
		{"**/*.go matches deep", web, "", PushTarget{Repository: "acme/web", Branch: "main", ChangedFiles: []string{"cmd/x/main.go"}}, true},
		{"leading ./ in a changed file", web, "", PushTarget{Repository: "acme/web", Branch: "main", ChangedFiles: []string{"./Dockerfile"}}, true},
		{"no paths means any file", anyFile, "", PushTarget{Repository: "https://github.com/ACME/api", Branch: "release", ChangedFiles: []string{"README.md"}}, true},
		{"owner/name source is on github.com", short, "", PushTarget{Repository: "acme/web", CloneURL: "https://github.com/acme/web.git", Branch: "main"}, true},
		{"owner/name source refuses another host", short, "", PushTarget{Repository: "acme/web", CloneURL: "https://evil.example/acme/web.git", Branch: "main"}, false},
		{"owner/name source refuses another host's URL", short, "", PushTarget{Repository: "https://evil.example/acme/web", Branch: "main"}, false},
		{"owner/name source on GitHub Enterprise", short, "ghe.example.com", PushTarget{Repository: "acme/web", CloneURL: "https://GHE.example.com/acme/web.git", Branch: "main"}, true},
		{"owner/name source on GitHub Enterprise refuses github.com", short, "ghe.example.com", PushTarget{Repository: "acme/web", CloneURL: "https://github.com/acme/web.git", Branch: "main"}, false},
		{"owner/name against a GHE URL", ghe, "", PushTarget{Repository: "acme/web", Branch: "main"}, true},
		{"GHE host differs", ghe, "", PushTarget{Repository: "https://github.com/acme/web", Branch: "main"}, false},
		{"local path", local, "", PushTarget{Repository: "/srv/git/web", Branch: "main"}, true},
		{"local path cleaned", local, "", PushTarget{Repository: "/srv/git/../git/web/", Branch: "main"}, true},
		{"file URL against a path", local, "", PushTarget{Repository: "demo/web", CloneURL: "file:///srv/git/web", Branch: "main"}, true},
		{"path against a file URL", fileURL, "", PushTarget{Repository: "demo/web", CloneURL: "/srv/git/web", Branch: "main"}, true},
		{"other local path", local, "", PushTarget{Repository: "demo/web", CloneURL: "/srv/git/web2", Branch: "main"}, false},
		{"local never matches remote", local, "", PushTarget{Repository: "srv/git", Branch: "main"}, false},
		{"local source needs a local location", local, "", PushTarget{Repository: "demo/web", CloneURL: "https://github.com/srv/git/web", Branch: "main"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.app.MatchesPush(tc.gitHost, tc.push); got != tc.want {
				t.Errorf("MatchesPush(%q, %+v) = %v, want %v", tc.gitHost, tc.push, got, tc.want)
			}
		})
	}
}

func TestSourceLocation(t *testing.T) {
	for _, tc := range []struct {
		repo, gitHost, want string
	}{
		{"acme/web", "", "https://github.com/acme/web.git"},
		{"acme/web.git", "", "https://github.com/acme/web.git"},
		{"acme/web", "ghe.example.com", "https://ghe.example.com/acme/web.git"},
		{"https://git.example.com/acme/web", "", "https://git.example.com/acme/web"},
		{"file:///srv/git/web", "", "file:///srv/git/web"},
		{"/srv/git/web", "ghe.example.com", "/srv/git/web"},
	} {
		if got := (Source{Repo: tc.repo}).Location(tc.gitHost); got != tc.want {
			t.Errorf("Source{Repo: %q}.Location(%q) = %q, want %q", tc.repo, tc.gitHost, got, tc.want)
		}
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
