package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// lambdaSettle is the settle window of the Lambda burst: the newest
// promotion is held on the FIFO queue (a visibility change) that long.
const lambdaSettle = 8 * time.Second

// TestLambdaBurstCoalesces: three quick pushes through the Lambda stack
// with a settle window. The coalescing records live in DynamoDB and the
// window is held on SQS FIFO: each environment gets at most one proposal
// per window, prod's PR proposes the newest digest and lists all three
// commits, and every queue ends empty with nothing dead-lettered.
func TestLambdaBurstCoalesces(t *testing.T) {
	s := startLambdaStack(t, func(registry, source string) string {
		return strings.Replace(lambdaPipeline("")(registry, source), "version: 1\n", "version: 1\nsettle: "+lambdaSettle.String()+"\n", 1)
	})
	var shas []string
	for i := range 3 {
		files := demo.AppFiles()
		files["app/index.html"] = fmt.Sprintf("<h1>v%d</h1>\n", i)
		shas = append(shas, s.push(files, fmt.Sprintf("web v%d", i)))
	}
	s.waitFor("the newest commit's build", 2*time.Minute, func() bool {
		ref, _ := name.ParseReference(s.image + ":sha-" + shas[2][:12])
		_, err := remote.Head(ref)
		return err == nil
	})
	newest := s.built(shas[2])
	s.waitFor("prod's proposal of the newest digest", 3*time.Minute, func() bool {
		r, ok := s.releaseIn("prod", state.Proposed)
		return ok && r.Digest == newest
	})
	pr := s.waitOpenPull(promote.Branch("web", "prod"), 10*time.Second)
	pr, _ = s.gh.pull(stackGitOps, pr.Number)
	for i, sha := range shas {
		if !strings.Contains(pr.Body, sha) {
			t.Errorf("prod PR body lacks commit %d (%.12s):\n%s", i+1, sha, pr.Body)
		}
	}
	for _, env := range []string{"dev", "staging"} {
		if got := s.deployed(env); got != newest {
			t.Errorf("%s runs %s, want the newest digest %s", env, got, newest)
		}
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		rels, err := s.st.ListReleases(context.Background(), state.ReleaseFilter{App: "web", Env: env})
		if err != nil {
			t.Fatal(err)
		}
		checkProposalsEvery(t, env, rels, lambdaSettle)
	}
	s.settle()
}
