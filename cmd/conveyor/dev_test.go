package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDevForgeSelection checks that `conveyor dev` refuses, before it
// starts anything, a GitOps URL whose forge it would have to guess, and a
// forge selection that would send a token in clear; the rules themselves
// are shared/local's TestSelectForge.
func TestDevForgeSelection(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"a URL not on github.com", nil, []string{"--gitops", "https://gitea.example.com/acme/gitops"}, []string{"--forge gitea", "$CONVEYOR_FORGE=gitea"}},
		{"an unknown forge", nil, []string{"--forge", "svn", "--gitops", "https://gitea.example.com/acme/gitops"}, []string{`--forge "svn"`}},
		{"an unknown forge from the environment", map[string]string{"CONVEYOR_FORGE": "svn"}, []string{"--gitops", "https://gitea.example.com/acme/gitops"}, []string{`--forge "svn"`}},
		{"the flag wins over the environment", map[string]string{"CONVEYOR_FORGE": "gitea"}, []string{"--forge", "local", "--gitops", "https://gitea.example.com/acme/gitops"}, []string{"local forge needs a repository on this machine"}},
		{"a Gitea API over plain http", nil, []string{"--forge", "gitea", "--forge-url", "http://gitea.example.com", "--gitops", "https://gitea.example.com/acme/gitops"}, []string{"--forge-url http://gitea.example.com", "https"}},
		{"a Gitea over plain http from the environment", map[string]string{"CONVEYOR_FORGE": "gitea"}, []string{"--gitops", "http://gitea.example.com/acme/gitops"}, []string{"https"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONVEYOR_FORGE", "")
			t.Setenv("CONVEYOR_FORGE_URL", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := filepath.Join(t.TempDir(), "data")
			code, _, errs := conveyor(t, append([]string{"dev", "--data-dir", dir}, tc.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (%s)", code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not say %q", errs, w)
				}
			}
		})
	}
}
