package test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// TestLambdaChainDeferrals runs the chain through two waits a Lambda
// consumer must sit out rather than fail: GitHub answering the first pull
// request 429 with a Retry-After longer than the queue's visibility (the
// forge is not asked again before it passes), and a freeze window on prod
// longer than maxReceiveCount × visibility of the promotions queue (the
// prod promotion is held, not dead-lettered, and proceeds once the window
// ends). The window is in real time, relative to now, because the
// functions read the real clock.
func TestLambdaChainDeferrals(t *testing.T) {
	const retryAfter = 7 * time.Second
	spec := stackSpec(queue.Promotions)
	redrive := time.Duration(spec.MaxReceives) * spec.Visibility
	s := startLambdaStack(t, lambdaPipeline(""))

	// Someone freezes prod from the start of this minute until well after
	// the promotion can arrive: longer than the redrive would allow.
	now := time.Now().UTC()
	opens := now.Truncate(time.Minute)
	end := now.Add(retryAfter + redrive + 12*time.Second).Truncate(time.Second)
	freeze := fmt.Sprintf("        freeze:\n          - {cron: \"%d %d * * *\", duration: %ds, timezone: UTC}\n",
		opens.Minute(), opens.Hour(), int(end.Sub(opens)/time.Second))
	s.gh.push(t, stackGitOps, "main", map[string]string{"conveyor.yaml": lambdaPipeline(freeze)(s.registry, stackSource)}, "freeze prod", now)
	s.gh.limitRate(routeCreatePull, retryAfter)

	began := time.Now()
	sha := s.push(demo.AppFiles(), "web v1")
	s.waitFor("dev's release", retryAfter+60*time.Second, func() bool { s.noDeadLetters(); _, ok := s.release("dev"); return ok })

	t.Run("429 waited out", func(t *testing.T) {
		reqs := s.gh.requestsTo(routeCreatePull)
		var codes []int
		for _, r := range reqs {
			codes = append(codes, r.Status)
		}
		if len(reqs) < 2 || reqs[0].Status != http.StatusTooManyRequests || slices.Index(codes[1:], http.StatusTooManyRequests) >= 0 {
			t.Fatalf("creating pull requests answered %v, want one 429 and then success: the forge was asked again before Retry-After passed", codes)
		}
		if gap := reqs[1].At.Sub(reqs[0].At); gap < retryAfter {
			t.Errorf("asked again %v after a %v Retry-After", gap, retryAfter)
		}
		t.Logf("the 429 was waited out: asked again after %v", reqs[1].At.Sub(reqs[0].At).Round(time.Millisecond))
	})

	pr := s.waitOpenPull(promote.Branch("web", "prod"), time.Until(end)+30*time.Second)
	t.Run("freeze held", func(t *testing.T) {
		var first time.Time
		during := 0
		for _, r := range s.esm[queue.Promotions].receives() {
			if !strings.Contains(r.Body, `"environment":"prod"`) {
				continue
			}
			if first.IsZero() {
				first = r.At
			}
			if r.At.Before(end) {
				during++
			}
			if n, _ := strconv.Atoi(r.Receives); n > spec.MaxReceives {
				t.Errorf("the prod promotion was received %d times, past the redrive limit %d", n, spec.MaxReceives)
			}
		}
		// Held, not polled: a few receives at most while the window lasts,
		// whichever messages carry the promotion.
		if during > spec.MaxReceives {
			t.Errorf("the prod promotion was handed to the function %d times during the freeze, want at most %d", during, spec.MaxReceives)
		}
		if held := end.Sub(first); held <= redrive {
			t.Fatalf("the prod promotion arrived %v before the window's end, not more than the %v the redrive allows: the chain was too slow to prove the hold", held, redrive)
		}
		if pr.CreatedAt.Before(end) || pr.CreatedAt.After(end.Add(30*time.Second)) {
			t.Errorf("the prod pull request opened at %s, want within 30 s after the window's end %s", pr.CreatedAt.Format(time.TimeOnly), end.Format(time.TimeOnly))
		}
		t.Logf("the prod promotion arrived %v before the window's end (redrive after %v) and its pull request opened %v after it",
			end.Sub(first).Round(time.Millisecond), redrive, pr.CreatedAt.Sub(end).Round(time.Millisecond))
	})

	s.approve(pr.Number)
	s.waitFor("prod's release to be recorded", 30*time.Second, func() bool { _, ok := s.release("prod"); return ok })
	digest := s.built(sha)
	for _, env := range []string{"dev", "staging", "prod"} {
		if got := s.deployed(env); got != digest {
			t.Errorf("%s runs %q, want %s", env, got, digest)
		}
	}
	s.settle()
	t.Logf("push → prod released in %v, through a %v Retry-After and a freeze ending %v after the push",
		time.Since(began).Round(time.Millisecond), retryAfter, end.Sub(began).Round(time.Millisecond))
}
