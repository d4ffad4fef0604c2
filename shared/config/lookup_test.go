package config

import (
	"fmt"
	"strings"
	"testing"
)

// manyApps is a valid conveyor.yaml of n apps with one environment each.
func manyApps(n int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\napps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: app-%05d\n    source: {repo: acme/app-%05d}\n    image: registry.test/acme/app-%05d\n    environments:\n      - {name: dev, path: apps/app-%05d/dev, release: auto}\n", i, i, i, i)
	}
	return []byte(b.String())
}

// TestParseIndexesApps checks that Parse leaves an index of every app, so
// App is a map lookup rather than a scan of a 10,000-app file.
func TestParseIndexesApps(t *testing.T) {
	cfg, err := Parse("conveyor.yaml", manyApps(300))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cfg.Index.byName); got != 300 {
		t.Fatalf("index holds %d apps, want 300", got)
	}
	for _, i := range []int{0, 150, 299} {
		if got := cfg.Index.byName[fmt.Sprintf("app-%05d", i)]; got != i {
			t.Errorf("index of app-%05d = %d, want %d", i, got, i)
		}
	}
}

func TestAppLookup(t *testing.T) {
	parsed := func(t *testing.T) *Config {
		cfg, err := Parse("conveyor.yaml", manyApps(3))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	for _, tc := range []struct {
		name   string
		cfg    func(t *testing.T) *Config
		lookup string
		want   bool
	}{
		{name: "parsed, known", cfg: parsed, lookup: "app-00002", want: true},
		{name: "parsed, unknown", cfg: parsed, lookup: "app-00009", want: false},
		{name: "built by hand", cfg: func(*testing.T) *Config { return &Config{Apps: []App{{Name: "web"}}} }, lookup: "web", want: true},
		{name: "renamed after parsing: new name", cfg: func(t *testing.T) *Config {
			c := parsed(t)
			c.Apps[1].Name = "renamed"
			return c
		}, lookup: "renamed", want: true},
		{name: "renamed after parsing: old name", cfg: func(t *testing.T) *Config {
			c := parsed(t)
			c.Apps[1].Name = "renamed"
			return c
		}, lookup: "app-00001", want: false},
		{name: "appended after parsing", cfg: func(t *testing.T) *Config {
			c := parsed(t)
			c.Apps = append(c.Apps, App{Name: "late"})
			return c
		}, lookup: "late", want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := tc.cfg(t).App(tc.lookup)
			if ok != tc.want || ok && a.Name != tc.lookup {
				t.Errorf("App(%q) = %v, %v; want found = %v", tc.lookup, a, ok, tc.want)
			}
		})
	}
}

// TestParseTenThousandApps parses a verbose 10,000-app pipeline, which is
// over a mebibyte: the size cap leaves room for it.
func TestParseTenThousandApps(t *testing.T) {
	data := manyApps(10000)
	if len(data) <= 1<<20 {
		t.Fatalf("the file is %d bytes: the case needs one over 1 MiB", len(data))
	}
	cfg, err := Parse("conveyor.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := cfg.App("app-09999"); !ok || a.Image != "registry.test/acme/app-09999" {
		t.Errorf("App(app-09999) = %+v, %v", a, ok)
	}
}
