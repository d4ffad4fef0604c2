package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/demo"
)

// TestRecordsEqualGit proves invariant 10 from the operator's side: after
// the demo releases to prod, an edit on main made outside Conveyor and then
// a git revert of it are what `status` shows (flagged as drift until
// reconciled), `reconcile` records them, and the revert counts as a
// rollback in `history` and `metrics`.
func TestRecordsEqualGit(t *testing.T) {
	bin := conveyorBin(t)
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), &out, demo.Options{Dir: t.TempDir(), All: true})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data-dir", res.DataDir)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("conveyor %v: %v\n%s", args, err, stderr.String())
		}
		return string(b)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", res.GitOpsRepo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Oscar Ops", "GIT_AUTHOR_EMAIL=ops@example.com",
			"GIT_COMMITTER_NAME=Oscar Ops", "GIT_COMMITTER_EMAIL=ops@example.com")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	type cell struct {
		Env, Digest, Recorded string
		Drift                 bool
	}
	status := func() map[string]cell {
		t.Helper()
		var cells []struct {
			Env      string `json:"env"`
			Digest   string `json:"digest"`
			Recorded string `json:"recordedDigest"`
			Drift    bool   `json:"drift"`
		}
		if err := json.Unmarshal([]byte(run("status", "-o", "json")), &cells); err != nil {
			t.Fatal(err)
		}
		m := map[string]cell{}
		for _, c := range cells {
			m[c.Env] = cell{Env: c.Env, Digest: c.Digest, Recorded: c.Recorded, Drift: c.Drift}
		}
		return m
	}
	released := res.Image[strings.Index(res.Image, "@")+1:]
	if c := status()["prod"]; c.Digest != released || c.Drift {
		t.Fatalf("after the demo, prod = %+v; want %s without drift", c, released)
	}

	// A hotfix edited on main by hand: git pins a digest Conveyor never
	// released.
	hotfix := fmt.Sprintf("sha256:%064x", 0xbeef)
	overlay := filepath.Join(res.GitOpsRepo, "envs", "prod", "kustomization.yaml")
	before, err := os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(before, []byte(released)) {
		t.Fatalf("prod overlay does not pin %s:\n%s", released, before)
	}
	writeFile(t, overlay, strings.ReplaceAll(string(before), released, hotfix))
	git("commit", "-qam", "hotfix: pin the patched image")
	if c := status()["prod"]; c.Digest != hotfix || c.Recorded != released || !c.Drift {
		t.Fatalf("after a hand edit, status prod = %+v; want git's %s, drift from %s", c, hotfix, released)
	}
	if got := run("reconcile"); !strings.Contains(got, "out-of-band") || !strings.Contains(got, "1 record(s) written") {
		t.Fatalf("reconcile:\n%s", got)
	}
	if c := status()["prod"]; c.Digest != hotfix || c.Drift {
		t.Fatalf("after reconcile, status prod = %+v; want %s without drift", c, hotfix)
	}

	// The hotfix is reverted with git: a rollback made outside Conveyor.
	git("revert", "--no-edit", "HEAD")
	if c := status()["prod"]; c.Digest != released || !c.Drift {
		t.Fatalf("after git revert, status prod = %+v; want git's %s, flagged", c, released)
	}
	if got := run("reconcile"); !strings.Contains(got, "reverted") {
		t.Fatalf("reconcile after the revert:\n%s", got)
	}
	if got := run("reconcile"); !strings.Contains(got, "records equal git") {
		t.Fatalf("a second reconcile still found drift:\n%s", got)
	}
	if c := status()["prod"]; c.Digest != released || c.Drift {
		t.Fatalf("after reconciling the revert, status prod = %+v", c)
	}
	if got := run("metrics"); !strings.Contains(got, "(1 rollback(s))") {
		t.Fatalf("metrics do not count the revert as a rollback:\n%s", got)
	}
	if got := run("history", "web"); !strings.Contains(got, "[rollback]") || !strings.Contains(got, "by Oscar Ops") {
		t.Fatalf("history does not show the revert by its author:\n%s", got)
	}
}
