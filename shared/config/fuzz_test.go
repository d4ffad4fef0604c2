package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(head + "    environments: [{name: dev, path: envs/dev, release: auto, freeze: [{cron: '0 18 * * FRI', duration: 1h}]}]\n"))
	f.Add([]byte("version: 1\napps: &a [*a]\n"))
	f.Add([]byte("a: &a {<<: *a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("conveyor.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse error %T %q is not a non-empty Errors", err, err)
			}
			for _, e := range errs {
				if e.Line < 0 || e.Column < 0 || e.File != "conveyor.yaml" || e.Msg == "" {
					t.Fatalf("malformed error %#v", e)
				}
			}
			if cfg != nil {
				t.Fatal("Parse returned a config with errors")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("parsed config does not re-validate: %v", err)
		}
		now := time.Date(2024, time.March, 31, 2, 30, 0, 0, time.UTC)
		for i := range cfg.Apps {
			a := &cfg.Apps[i]
			if !a.MatchesPush("", PushTarget{Repository: a.Source.Repo, CloneURL: a.Source.Location(""), Branch: a.Source.Branch}) {
				t.Fatalf("app %q does not match a push to its own source %q", a.Name, a.Source.Repo)
			}
			a.AcceptsTag("v1.2.3")
			for _, e := range a.Environments {
				if frozen, until := e.Frozen(now); frozen && !until.After(now) {
					t.Fatalf("env %q frozen at %s until %s", e.Name, now, until)
				}
			}
		}
	})
}
