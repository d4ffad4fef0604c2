package test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// TestLambdaReconcileLostMerge loses GitHub's merge webhooks in the Lambda
// stack and lets the scheduled reconcile function repair them. GitHub
// never redelivers a webhook, so once dev's merge event is lost staging is
// never promoted, and nothing says so: every queue and dead-letter queue
// is empty. The reconcile function, invoked with EventBridge's scheduled
// event, finds the merged pull request on GitHub, records it as the
// event would have (the merger and approvers GitHub knows) and enqueues
// staging's promotion; the chain carries on to prod, which waits for
// alice. Her approval's merge event is lost too: the next pass records
// prod's release approved by her. A pass with nothing lost repairs
// nothing.
func TestLambdaReconcileLostMerge(t *testing.T) {
	s := startLambdaStack(t, lambdaPipeline(""))
	began := time.Now()
	schedule := json.RawMessage(sample(t, "eventbridge-scheduled.json"))

	s.gh.dropWebhooks("pull_request", "closed", 1)
	sha := s.push(demo.AppFiles(), "web v1")
	s.waitFor("dev's merge webhook to be lost", 60*time.Second, func() bool { s.noDeadLetters(); return len(s.gh.lostWebhooks()) == 1 })
	s.settle()
	devPR, _ := s.gh.pull(stackGitOps, s.gh.lostWebhooks()[0].Number)
	digest := s.built(sha)
	if devPR.Head != promote.Branch("web", "dev") || !devPR.Merged || s.deployed("dev") != digest {
		t.Fatalf("lost the webhook of #%d (%s, merged %v), dev runs %q: want dev's merge of %s", devPR.Number, devPR.Head, devPR.Merged, s.deployed("dev"), digest)
	}
	if _, ok := s.releaseIn("dev", state.Proposed); !ok {
		t.Fatal("dev's proposal is not recorded")
	}
	if rel, ok := s.release("dev"); ok {
		t.Fatalf("dev's merge is recorded without its webhook: %+v", rel)
	}
	if s.staging() || s.deployed("staging") != "" {
		t.Fatalf("staging was promoted without dev's merge event (runs %q)", s.deployed("staging"))
	}
	lostAt := time.Now()

	// EventBridge's schedule fires.
	if got := s.reconcile(schedule); got != (reconcile.Summary{Repairs: 1}) {
		t.Fatalf("first pass: %+v, want the one lost merge repaired", got)
	}
	dev, ok := s.release("dev")
	if !ok || dev.PR != devPR.Number || dev.Digest != digest || dev.MergeCommit != devPR.MergeCommit ||
		dev.MergedBy != devPR.MergedBy || dev.MergedBy != "conveyor-bot" || len(dev.ApprovedBy) != 0 {
		t.Fatalf("dev's release after reconciliation: %+v, want #%d of %s merged at %.12s by conveyor-bot as GitHub says, approved by no one",
			dev, devPR.Number, digest, devPR.MergeCommit)
	}
	prodPR := s.waitOpenPull(promote.Branch("web", "prod"), 30*time.Second)
	repaired := time.Since(lostAt)
	s.waitFor("prod's proposal to be recorded", 10*time.Second, func() bool { _, ok := s.releaseIn("prod", state.Proposed); return ok })
	s.settle()
	// Once the chain is quiet a pass finds nothing: the repair sent
	// staging's promotion once. (A pass while staging's merge event is
	// still in flight may record that merge itself, which is why deployed
	// stacks settle for a minute; this stack does not.)
	if got := s.reconcile(schedule); got != (reconcile.Summary{}) {
		t.Errorf("a pass after the repaired chain settled: %+v, want nothing to repair", got)
	}
	stg, _ := s.release("staging")
	if s.deployed("staging") != digest || stg.Digest != digest || stg.MergedBy != "conveyor-bot" || stg.TraceID != dev.TraceID {
		t.Errorf("staging runs %q, release %+v: want %s merged by conveyor-bot, traced as dev's %s", s.deployed("staging"), stg, digest, dev.TraceID)
	}
	if got := s.deployed("prod"); got != "" {
		t.Errorf("prod runs %q before alice approved", got)
	}

	// Alice approves prod; the approval function merges it and GitHub's
	// merge webhook is lost again.
	s.gh.dropWebhooks("pull_request", "closed", 1)
	s.approve(prodPR.Number)
	s.waitFor("prod's merge webhook to be lost", 30*time.Second, func() bool { s.noDeadLetters(); return len(s.gh.lostWebhooks()) == 2 })
	s.settle()
	if rel, ok := s.release("prod"); ok || s.deployed("prod") != digest {
		t.Fatalf("prod runs %q, merged record %+v (%v): want the merge in git and no record of it yet", s.deployed("prod"), rel, ok)
	}
	if got := s.reconcile(schedule); got != (reconcile.Summary{Repairs: 1}) {
		t.Fatalf("pass after prod's lost merge: %+v, want the one lost merge repaired", got)
	}
	merged, _ := s.gh.pull(stackGitOps, prodPR.Number)
	prod, _ := s.release("prod")
	if prod.PR != prodPR.Number || prod.Digest != digest || prod.MergedBy != merged.MergedBy || prod.MergeCommit != merged.MergeCommit ||
		strings.Join(prod.ApprovedBy, ",") != "alice" {
		t.Errorf("prod's release after reconciliation: %+v, want #%d of %s merged at %.12s by %s, approved by alice",
			prod, prodPR.Number, digest, merged.MergeCommit, merged.MergedBy)
	}
	if got := s.reconcile(schedule); got != (reconcile.Summary{}) {
		t.Errorf("a pass with nothing lost: %+v, want nothing to repair", got)
	}
	s.settle()
	s.logsClean()
	t.Logf("Lambda reconcile: stack up in %v; lost dev merge → prod pull request %v; test %v",
		s.started.Round(time.Millisecond), repaired.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// reconcile invokes the reconcile function with event, as its schedule
// does, and returns the pass's summary.
func (s *lambdaStack) reconcile(event json.RawMessage) reconcile.Summary {
	s.t.Helper()
	var out reconcile.Summary
	began := time.Now()
	s.fns["reconcile"].invoke(s.t, event, &out)
	s.t.Logf("reconcile pass: %+v in %v", out, time.Since(began).Round(time.Millisecond))
	return out
}

// staging reports whether staging has any record or an open pull request.
func (s *lambdaStack) staging() bool {
	s.t.Helper()
	rels, err := s.st.ListReleases(context.Background(), state.ReleaseFilter{App: "web", Env: "staging"})
	if err != nil {
		s.t.Fatal(err)
	}
	_, open := s.gh.openPull(stackGitOps, promote.Branch("web", "staging"))
	return len(rels) > 0 || open
}
