package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// startDev runs `conveyor dev` on the repositories and returns its
// ingress URL; crash arms a crash point in it.
func startDev(t *testing.T, dataDir, gitopsDir, registry, crash string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(conveyorBin(t), "dev", "--addr", "127.0.0.1:0", "--registry-addr", registry, "--data-dir", dataDir,
		"--gitops", gitopsDir, "--visibility", "1s")
	cmd.Env = append(os.Environ(), "CONVEYOR_GITHUB_WEBHOOK_SECRET="+demo.Secret, crashpoint.Env+"="+crash)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(out)
	re := regexp.MustCompile(`ingress on (http://127\.0\.0\.1:\d+)`)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("conveyor dev exited before listening: %v", err)
		}
		if m := re.FindStringSubmatch(line); m != nil {
			go func() { _, _ = io.Copy(io.Discard, r) }()
			return cmd, m[1]
		}
	}
}

// TestKilledAtEachBoundary kills `conveyor dev` with SIGKILL at each side
// effect in turn — after the image push, after the git push, after the PR is
// opened, before the state write — restarts it, and checks that the chain
// completes with no duplicate branch, pull request or release record.
func TestKilledAtEachBoundary(t *testing.T) {
	for _, point := range []string{crashpoint.AfterImagePush, crashpoint.AfterGitPush, crashpoint.AfterPROpened, crashpoint.BeforeStateWrite} {
		t.Run(point, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			registry := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			image := registry + "/demo/web"
			app, err := demo.InitRepo(filepath.Join(dir, "web"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := app.Commit(demo.AppFiles(), "web", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			g, err := demo.InitRepo(filepath.Join(dir, "gitops"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.Commit(demo.GitOpsFiles(app.Dir, image), "pipeline", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			if err := g.AcceptPushes(); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(dir, "data")

			cmd, ingress := startDev(t, data, g.Dir, registry, point)
			postSigned(t, ingress, "crash-1", demo.PushWebhook("demo/web", app.Dir, "main", "", c, nil))
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("conveyor dev never reached the crash point %s", point)
			}
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != -1 {
				t.Fatalf("conveyor dev exited with %v, want killed by SIGKILL at %s", cmd.ProcessState, point)
			}

			startDev(t, data, g.Dir, registry, "")
			rt, err := local.Open(ctx, local.Options{DataDir: data, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			gg, err := rt.OpenGitOps(ctx, g.Dir, local.PipelineSource(g.Dir, "main"))
			if err != nil {
				t.Fatal(err)
			}
			// The prod release record is written just after its PR opens:
			// wait for both, then check nothing was duplicated.
			waitFor(t, "the prod PR and its release record after the restart", 60*time.Second, func() bool {
				open, err := gg.Local.List(ctx, forge.StateOpen)
				rels, _ := rt.State.ListReleases(ctx, state.ReleaseFilter{Env: "prod"})
				return err == nil && len(open) == 1 && open[0].Branch == "conveyor/prod/web" && len(rels) > 0
			})
			prs, _ := gg.Local.List(ctx, "")
			if len(prs) != 3 {
				t.Fatalf("%d pull requests, want exactly dev, staging and prod", len(prs))
			}
			rels, _ := rt.State.ListReleases(ctx, state.ReleaseFilter{})
			seen := map[string]int{}
			for _, r := range rels {
				seen[r.Env]++
			}
			if len(rels) != 3 || seen["dev"] != 1 || seen["staging"] != 1 || seen["prod"] != 1 {
				t.Fatalf("release records %v, want one per environment", seen)
			}
			repo, err := git.PlainOpen(g.Dir)
			if err != nil {
				t.Fatal(err)
			}
			branches := 0
			iter, _ := repo.Branches()
			_ = iter.ForEach(func(*plumbing.Reference) error { branches++; return nil })
			if branches != 4 {
				t.Fatalf("%d branches, want main and one per environment", branches)
			}
			for _, env := range []string{"dev", "staging"} {
				data, _, err := gitops.ReadFile(ctx, g.Dir, "main", "envs/"+env+"/kustomization.yaml", nil)
				if err != nil || !regexp.MustCompile(`digest: sha256:[0-9a-f]{64}`).Match(data) {
					t.Fatalf("%s not released after the restart: %v\n%s", env, err, data)
				}
			}
		})
	}
}
