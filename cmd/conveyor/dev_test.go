package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestDevNamesTheTakenPort: a port already in use names the listener and
// the flag that moves it; the log lines come in the format asked for.
func TestDevNamesTheTakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"ingress, text logs", []string{"--addr", addr, "--registry-addr", "", "--log-format", "text"},
			[]string{"the ingress cannot listen", "address already in use", "choose another address with --addr", `level=WARN msg="no GitHub webhook secret`}},
		{"registry, json logs", []string{"--addr", "127.0.0.1:0", "--registry-addr", addr, "--log-format", "json"},
			[]string{"the embedded registry cannot listen", "--registry-addr", `{"time":`, `"level":"WARN"`}},
		{"warnings silenced", []string{"--addr", addr, "--registry-addr", "", "--log-level", "error"},
			[]string{"the ingress cannot listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CONVEYOR_GITHUB_WEBHOOK_SECRET", "")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			code := run(ctx, append([]string{"dev", "--data-dir", filepath.Join(t.TempDir(), "data")}, tt.args...), &out, &errb)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, errb.String())
				}
			}
			if tt.name == "warnings silenced" && strings.Contains(errb.String(), "no GitHub webhook secret") {
				t.Errorf("--log-level error still wrote a warning:\n%s", errb.String())
			}
		})
	}
	for _, bad := range [][]string{{"--log-level", "loud"}, {"--log-format", "xml"}} {
		if code, _, errs := conveyor(t, append([]string{"dev"}, bad...)...); code != 2 || !strings.Contains(errs, bad[0]) {
			t.Errorf("dev %v: exit %d, %s; want 2 naming the flag", bad, code, errs)
		}
	}
}

// TestDevLogFormatDefault: without --log-format, logs are JSON lines when
// stderr is not a terminal (a file, a pipe, a collector), text when asked.
func TestDevLogFormatDefault(t *testing.T) {
	for _, tc := range []struct {
		format string
		json   bool
	}{
		{"", true},
		{"json", true},
		{"text", false},
	} {
		var b bytes.Buffer
		l, err := devLogger(&b, "info", tc.format)
		if err != nil {
			t.Fatal(err)
		}
		l.Info("hello", "pr", 3)
		if got := json.Valid(b.Bytes()); got != tc.json {
			t.Errorf("--log-format %q wrote %q, JSON %v, want %v", tc.format, b.String(), got, tc.json)
		}
	}
}
