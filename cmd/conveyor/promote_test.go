package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// promoteSetup is a data directory and GitOps repository for the demo
// pipeline whose image lives in a real (in-memory) registry holding one
// built digest, with staging running digest staging.
type promoteSetup struct {
	dataDir, gitops, image, built string
}

// newPromoteSetup commits the demo's GitOps files, after edit changes
// them when given.
func newPromoteSetup(t *testing.T, edit ...func(files map[string]string)) *promoteSetup {
	t.Helper()
	dir := t.TempDir()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	image := strings.TrimPrefix(srv.URL, "http://") + "/acme/web"
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(image+":sha-1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	files := demo.GitOpsFiles(filepath.Join(dir, "web"), image)
	for _, e := range edit {
		e(files)
	}
	if _, err := repo.Commit(files, "init", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := repo.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	s := &promoteSetup{dataDir: filepath.Join(dir, "data"), gitops: repo.Dir, image: image, built: d.String()}
	s.runs(t, "staging", s.built)
	return s
}

// runs records env as running digest.
func (s *promoteSetup) runs(t *testing.T, env, digest string) {
	t.Helper()
	ctx := context.Background()
	rt, err := local.Open(ctx, local.Options{DataDir: s.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	r := state.Release{ID: promote.ReleaseID("web", env, digest), App: "web", Env: env, Image: s.image, Digest: digest,
		State: state.Merged, MergedAt: time.Now()}
	if err := rt.State.PutRelease(ctx, &r); err != nil {
		t.Fatal(err)
	}
}

// promote runs `conveyor promote`; a failure is its stderr as an error,
// wrapping errUsage when it exited 2.
func (s *promoteSetup) promote(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"promote", "--data-dir", s.dataDir, "--gitops", s.gitops}, args...), &stdout, &stderr)
	switch code {
	case 0:
		return stdout.String(), nil
	case 2:
		return stdout.String(), fmt.Errorf("%w: %s", errUsage, stderr.String())
	}
	return stdout.String(), errors.New(stderr.String())
}

func (s *promoteSetup) release(t *testing.T, env, digest string) state.Release {
	t.Helper()
	ctx := context.Background()
	rt, err := local.Open(ctx, local.Options{DataDir: s.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	r, err := rt.State.GetRelease(ctx, promote.ReleaseID("web", env, digest))
	if err != nil {
		t.Fatalf("release of %s to %s: %v", digest, env, err)
	}
	return r
}

// TestPromoteChecksWhatRunsBefore: a manual promotion names a digest that
// was built (it is in the registry) and that the previous environment runs,
// unless the operator overrides it, with a reason, on the record.
func TestPromoteChecksWhatRunsBefore(t *testing.T) {
	never := "sha256:" + strings.Repeat("e", 64)
	for _, tc := range []struct {
		name   string
		args   func(s *promoteSetup) []string
		setup  func(t *testing.T, s *promoteSetup)
		want   string // in stdout, or in the error when fail
		fail   bool
		usage  bool
		forced bool
	}{
		{name: "never built, first environment", args: func(s *promoteSetup) []string { return []string{"web", "dev", s.image + "@" + never} },
			fail: true, want: "not in the registry"},
		{name: "never built, straight to prod", args: func(s *promoteSetup) []string { return []string{"web", "prod", s.image + "@" + never} },
			fail: true, want: "staging does not run " + never},
		{name: "built, but staging runs another", args: func(s *promoteSetup) []string { return []string{"web", "prod", s.image + "@" + s.built} },
			setup: func(t *testing.T, s *promoteSetup) { s.runs(t, "staging", never) }, fail: true, want: "staging does not run"},
		{name: "built and run by staging", args: func(s *promoteSetup) []string { return []string{"web", "prod", s.image + "@" + s.built} },
			want: "opened #1"},
		{name: "built, first environment", args: func(s *promoteSetup) []string { return []string{"web", "dev", s.image + "@" + s.built} },
			want: "merged #1"},
		{name: "override", args: func(s *promoteSetup) []string {
			return []string{"--force", "--reason", "hotfix built by hand", "web", "prod", s.image + "@" + never}
		}, want: "opened #1", forced: true},
		{name: "override without a reason", args: func(s *promoteSetup) []string { return []string{"--force", "web", "prod", s.image + "@" + never} },
			fail: true, usage: true, want: "--reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPromoteSetup(t)
			if tc.setup != nil {
				tc.setup(t, s)
			}
			out, err := s.promote(tc.args(s)...)
			if tc.fail {
				if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage) != tc.usage {
					t.Fatalf("promote = %q, %v; want an error (usage %v) containing %q", out, err, tc.usage, tc.want)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.want) {
				t.Fatalf("promote = %q, %v; want %q", out, err, tc.want)
			}
			if tc.forced {
				r := s.release(t, "prod", never)
				if !strings.HasPrefix(r.Override, "override by ") || !strings.HasSuffix(r.Override, ": hotfix built by hand") {
					t.Fatalf("release override %q, want it recorded", r.Override)
				}
			}
		})
	}
}

// TestPromoteKeepsTheTag: IMAGE:TAG@DIGEST promotes the digest and keeps the
// tag with the release (a chart's tag value is written as TAG@DIGEST from
// it); a tag without a digest is refused.
func TestPromoteKeepsTheTag(t *testing.T) {
	s := newPromoteSetup(t)
	out, err := s.promote("web", "prod", s.image+":v2.1.0@"+s.built)
	if err != nil || !strings.Contains(out, "opened #1") {
		t.Fatalf("promote = %q, %v; want opened #1", out, err)
	}
	if r := s.release(t, "prod", s.built); r.Tag != "v2.1.0" || r.Digest != s.built {
		t.Fatalf("release tag %q digest %s, want v2.1.0 and %s", r.Tag, r.Digest, s.built)
	}
	if _, err := s.promote("web", "prod", s.image+":v2.1.0"); !errors.Is(err, errUsage) {
		t.Fatalf("promote of a tag alone = %v, want a usage error", err)
	}
}

// TestPromoteWait: `promote --wait` returns with the pull request's fate:
// exit 0 once it merges (at once for an auto environment), 1 when it is
// closed unmerged or still open at --timeout.
func TestPromoteWait(t *testing.T) {
	defer func(p time.Duration) { waitPoll = p }(waitPoll)
	waitPoll = 20 * time.Millisecond
	for _, tc := range []struct {
		name    string
		env     string
		timeout string
		act     []string // what someone does to #1 meanwhile, nil for nothing
		code    int
		stdout  string
		stderr  string
	}{
		{"merged", "prod", "20s", []string{"pr", "merge", "1", "--as", "alice", "--override", "test"}, 0, "merged: #1 as ", ""},
		{"closed", "prod", "20s", []string{"pr", "close", "1"}, 1, "opened #1", "#1 was closed without merging"},
		{"timeout", "prod", "300ms", nil, 1, "opened #1", "#1 is still open after 300ms"},
		{"auto environment", "dev", "20s", nil, 0, "merged: #1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPromoteSetup(t)
			data := []string{"--data-dir", s.dataDir, "--gitops", s.gitops}
			type result struct {
				code           int
				stdout, stderr string
			}
			done := make(chan result, 1)
			go func() {
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), append([]string{"promote", "--wait", "--timeout", tc.timeout, "web", tc.env, s.image + "@" + s.built}, data...), &stdout, &stderr)
				done <- result{code, stdout.String(), stderr.String()}
			}()
			if tc.act != nil {
				// Act once the pull request exists.
				deadline := time.Now().Add(10 * time.Second)
				for {
					var out, errb bytes.Buffer
					if run(context.Background(), append(tc.act, data...), &out, &errb) == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%v never succeeded: %s", tc.act, errb.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("promote --wait did not return")
			}
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, %q and %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}
