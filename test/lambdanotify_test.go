package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/google/go-cmp/cmp"
)

// TestLambdaNotifications: on the Lambda stack (SQS, DynamoDB, the notify
// bootstrap), prod's pull request is told to a signed webhook that fails
// its first request — once per event, after SQS delivers it again — and
// commented on through GitHub's API.
func TestLambdaNotifications(t *testing.T) {
	hook := newReceiver(t, http.StatusServiceUnavailable)
	t.Setenv("CONVEYOR_TEST_HOOK_KEY", "lambda-hook-key")
	s := startLambdaStack(t, lambdaPipeline("        notify:\n"+
		"          - {webhook: \""+hook.srv.URL+"/hook\", secretEnv: CONVEYOR_TEST_HOOK_KEY, events: [opened, waiting]}\n"+
		"          - {prComment: true, events: [waiting]}\n"))
	s.push(demo.AppFiles(), "web v1")
	pr := s.waitOpenPull(promote.Branch("web", "prod"), 90*time.Second)
	s.waitFor("the webhook's two events", 60*time.Second, func() bool {
		got, _ := hook.webhookEvents(t, "lambda-hook-key")
		return len(got) == 2
	})
	s.waitFor("the comment on prod's pull request", 30*time.Second, func() bool {
		p, _ := s.gh.pull(stackGitOps, pr.Number)
		return len(p.Comments) > 0
	})
	s.settle()
	got, posts := hook.webhookEvents(t, "lambda-hook-key")
	if diff := cmp.Diff([]string{"opened prod", "waiting prod"}, got); diff != "" {
		t.Errorf("webhook events (-want +got):\n%s", diff)
	}
	if n := hook.count(); n != 3 {
		t.Errorf("%d posts (%v), want 3: one failed and retried", n, posts)
	}
	// Each function wrote what its invocations counted as CloudWatch EMF.
	for fn, metric := range map[string]string{
		"webhook":  "conveyor_events_received_total",
		"build":    "conveyor_build_duration_seconds",
		"registry": "conveyor_registry_requests_total",
		"promote":  "conveyor_forge_requests_total",
		"notify":   "conveyor_handler_outcomes_total",
	} {
		if !wroteEMF(s.fns[fn].output(), metric) {
			t.Errorf("the %s function wrote no EMF line of %s", fn, metric)
		}
	}
	p, _ := s.gh.pull(stackGitOps, pr.Number)
	if len(p.Comments) != 1 || !strings.Contains(p.Comments[0], "waits for 1 approval(s)") || !strings.Contains(p.Comments[0], "alice") {
		t.Errorf("comments on #%d: %q", pr.Number, p.Comments)
	}
}

// wroteEMF reports whether a function's output holds an EMF document of
// metric in the Conveyor namespace.
func wroteEMF(out, metric string) bool {
	for _, l := range strings.Split(out, "\n") {
		var doc struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace string
					Metrics   []struct{ Name string }
				}
			} `json:"_aws"`
		}
		if json.Unmarshal([]byte(l), &doc) != nil {
			continue
		}
		for _, cw := range doc.AWS.CloudWatchMetrics {
			for _, m := range cw.Metrics {
				if cw.Namespace == "Conveyor" && m.Name == metric {
					return true
				}
			}
		}
	}
	return false
}
