package gitops

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const benchApps = 1000

// BenchmarkPropose compares one promotion (shallow clone, edit one file,
// commit, push a branch) with go-git in memory and with the git CLI on disk,
// over smart HTTP on loopback, for 300 and 3,000 commits of history: the
// go-git/git-cli ratio and the independence from history length can be read
// from ns/op. Repositories live on tmpfs when /dev/shm exists (FIELD-NOTES:
// ext4 slows down during long runs).
func BenchmarkPropose(b *testing.B) {
	root := benchDir(b)
	base := serveHTTP(b, root, "", "")
	histories := []int{300, 3000}
	for _, n := range histories {
		historyRepo(b, filepath.Join(root, fmt.Sprintf("apps-%d.git", n)), benchApps, n)
	}
	seq := 0
	next := func() (app int, d string) {
		seq++
		return 7, digest(1_000_000 + seq)
	}
	for _, n := range histories {
		url := fmt.Sprintf("%s/apps-%d.git", base, n)
		b.Run(fmt.Sprintf("go-git/%d", n), func(b *testing.B) {
			r := &Repo{URL: url, Base: "main", Author: testAuthor}
			ctx := b.Context()
			for b.Loop() {
				app, d := next()
				c, err := r.Propose(ctx, fmt.Sprintf("conveyor/dev/app-%04d", app), setAppDigest(app, d), "promote", time.Now())
				if err != nil || !c.Changed {
					b.Fatalf("Propose = %+v, %v", c, err)
				}
			}
		})
	}
	for _, n := range histories {
		url := fmt.Sprintf("%s/apps-%d.git", base, n)
		b.Run(fmt.Sprintf("git-cli/%d", n), func(b *testing.B) {
			for b.Loop() {
				app, d := next()
				work, err := os.MkdirTemp(root, "clone-")
				if err != nil {
					b.Fatal(err)
				}
				runGit(b, root, "clone", "-q", "--depth", "1", "--single-branch", "--branch", "main", url, work)
				p := filepath.Join(work, "apps", fmt.Sprintf("%04d", app), "kustomization.yaml")
				old, err := os.ReadFile(p)
				if err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(p, digestLine.ReplaceAll(old, []byte("digest: "+d)), 0o644); err != nil {
					b.Fatal(err)
				}
				runGit(b, work, "commit", "-q", "-am", "promote")
				runGit(b, work, "push", "-q", "-f", "origin", fmt.Sprintf("HEAD:refs/heads/conveyor/dev/cli-%04d", app))
			}
		})
	}
}

func setAppDigest(app int, d string) Edit {
	return editDigest(fmt.Sprintf("apps/%04d/kustomization.yaml", app), d)
}

func benchDir(b *testing.B) string {
	if _, err := os.Stat("/dev/shm"); err != nil {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "gitops-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// historyRepo creates a bare repository of apps apps with commits
// commits on main, streamed through git fast-import: the first adds every
// app, each later one changes one app's deployment.
func historyRepo(b *testing.B, dir string, apps, commits int) {
	b.Helper()
	runGit(b, filepath.Dir(dir), "init", "-q", "--bare", "-b", "main", dir)
	runGit(b, dir, "config", "http.receivepack", "true")
	// Let the CLI's --filter=blob:none work as it would on a forge.
	runGit(b, dir, "config", "uploadpack.allowFilter", "true")
	var s bytes.Buffer
	data := func(text string) { fmt.Fprintf(&s, "data %d\n%s\n", len(text), text) }
	for i := range commits {
		fmt.Fprintf(&s, "commit refs/heads/main\ncommitter Seed <seed@example.test> %d +0000\n", 1_700_000_000+i*60)
		data(fmt.Sprintf("change %d", i))
		if i == 0 {
			for a := range apps {
				fmt.Fprintf(&s, "M 100644 inline apps/%04d/kustomization.yaml\n", a)
				data(kustomization(digest(a)))
				fmt.Fprintf(&s, "M 100644 inline apps/%04d/deployment.yaml\n", a)
				data(deployment(a, 0))
			}
			continue
		}
		a := i % apps
		fmt.Fprintf(&s, "M 100644 inline apps/%04d/deployment.yaml\n", a)
		data(deployment(a, i))
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Env = gitEnv()
	cmd.Stdin = &s
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git fast-import: %v\n%s", err, out)
	}
}

func deployment(app, rev int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%04d
  labels:
    app: app-%04d
  annotations:
    revision: "%d"
spec:
  replicas: 2
  selector:
    matchLabels:
      app: app-%04d
  template:
    metadata:
      labels:
        app: app-%04d
    spec:
      containers:
        - name: app
          image: registry.test/app-%04d
          ports:
            - containerPort: 8080
`, app, app, rev, app, app, app)
}
