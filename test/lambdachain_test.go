package test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// lambdaPipeline is the GitOps repository's conveyor.yaml for the Lambda
// stack: dev and staging released automatically, prod by alice's approval,
// with prodExtra appended to prod's settings (e.g. a freeze).
func lambdaPipeline(prodExtra string) func(registry, source string) string {
	return func(registry, source string) string {
		return fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s, branch: main}
    image: %s/acme/web
    tags: {glob: ["sha-*"]}
    environments:
      - {name: dev, path: envs/dev, strategy: kustomize, release: auto}
      - {name: staging, path: envs/staging, strategy: kustomize, release: auto}
      - name: prod
        path: envs/prod
        strategy: kustomize
        release: manual
        reviewers: [alice]
%s`, source, registry, prodExtra)
	}
}

// TestLambdaChain carries one change from push to prod through the six
// Lambda bootstraps: a signed push webhook → the build function builds
// and pushes the image to the distribution registry → the registry's
// notification reaches the webhook function → the registry and promote
// functions open the dev pull request and merge it → GitHub's merge webhook
// → the approval function promotes on to staging, then prod, which waits
// for alice's approval; her review webhook merges it. The same digest runs
// in every environment, recorded with who approved and merged, and every
// queue and dead-letter queue ends empty.
func TestLambdaChain(t *testing.T) {
	s := startLambdaStack(t, lambdaPipeline(""))
	began := time.Now()
	sha := s.push(demo.AppFiles(), "web v1")
	pr := s.waitOpenPull(promote.Branch("web", "prod"), 90*time.Second)
	toProdPR := time.Since(began)
	// The promoter labels the pull request and requests its reviewers
	// before it records the proposal.
	s.waitFor("prod's proposal to be recorded", 10*time.Second, func() bool { _, ok := s.releaseIn("prod", state.Proposed); return ok })
	pr, _ = s.gh.pull(stackGitOps, pr.Number)
	digest := s.built(sha)
	for env, want := range map[string]string{"dev": digest, "staging": digest, "prod": ""} {
		if got := s.deployed(env); got != want {
			t.Fatalf("before approval %s runs %q, want %q", env, got, want)
		}
	}
	if !slices.Contains(pr.Labels, "conveyor") || !slices.Contains(pr.RequestedReviewers, "alice") {
		t.Errorf("prod pull request #%d has labels %v and reviewers %v, want conveyor and alice", pr.Number, pr.Labels, pr.RequestedReviewers)
	}

	approved := time.Now()
	s.approve(pr.Number)
	s.waitFor("prod's release to be recorded", 30*time.Second, func() bool { _, ok := s.release("prod"); return ok })
	toProd := time.Since(approved)
	traces := map[string]bool{}
	for _, env := range []string{"dev", "staging", "prod"} {
		if got := s.deployed(env); got != digest {
			t.Errorf("%s runs %q, want the built digest %s everywhere", env, got, digest)
		}
		rel, _ := s.release(env)
		if rel.Digest != digest || rel.SourceCommit != sha || rel.MergedBy != "conveyor-bot" || rel.MergeCommit == "" {
			t.Errorf("%s release %+v, want %s of %.12s merged by conveyor-bot", env, rel, digest, sha)
		}
		traces[rel.TraceID] = true
	}
	if rel, _ := s.release("prod"); strings.Join(rel.ApprovedBy, ",") != "alice" {
		t.Errorf("prod release approved by %v, want alice", rel.ApprovedBy)
	}
	if len(traces) != 1 {
		t.Errorf("releases carry %d trace ids, want the push's one: %v", len(traces), traces)
	}
	if p, _ := s.gh.pull(stackGitOps, pr.Number); !p.Merged || !strings.Contains(s.gh.file(stackGitOps, p.MergeCommit, "envs/prod/kustomization.yaml"), digest) {
		t.Errorf("prod pull request #%d: merged %v at %.12s, want merged with the digest", pr.Number, p.Merged, p.MergeCommit)
	}
	s.boardShowsCommit(sha, "web v1")
	s.settle()
	s.logsClean()
	t.Logf("Lambda chain: stack up in %v; push → prod pull request %v; approval → prod released %v; push → prod %v",
		s.started.Round(time.Millisecond), toProdPR.Round(time.Millisecond), toProd.Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
}

// httpDo sends a JSON request with a GitHub token and returns the status
// and body.
func httpDo(t testing.TB, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
