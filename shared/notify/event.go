package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
)

// Event is one thing that happened to a promotion, as receivers get it.
type Event struct {
	// Event is one of config.NotifyEvents.
	Event string `json:"event"`
	// Key identifies the event: the same occurrence, told twice, has the
	// same key (receivers may deduplicate on it too).
	Key         string `json:"key"`
	App         string `json:"app,omitempty"`
	Environment string `json:"environment,omitempty"`
	Digest      string `json:"digest,omitempty"`
	Tag         string `json:"tag,omitempty"`
	PR          int    `json:"pr,omitempty"`
	PRURL       string `json:"pr_url,omitempty"`
	// Approvers may approve a waiting promotion ("org/team" or users);
	// Approvals is how many approvals it needs.
	Approvers []string `json:"approvers,omitempty"`
	Approvals int      `json:"approvals,omitempty"`
	// Reason says why a promotion was refused or a message dead-lettered.
	Reason string `json:"reason,omitempty"`
	// Until is when a freeze window ends.
	Until time.Time `json:"until,omitzero"`
	// Queue and Replay name a dead letter's queue and the command that
	// replays it.
	Queue   string    `json:"queue,omitempty"`
	Replay  string    `json:"replay,omitempty"`
	TraceID string    `json:"trace_id"`
	At      time.Time `json:"at"`
}

// Target is where one receiver's copy goes: what Delivery carries instead
// of config.Notify, without its position and filter, and never a secret.
type Target struct {
	Webhook   string `json:"webhook,omitempty"`
	SecretEnv string `json:"secret_env,omitempty"`
	SlackEnv  string `json:"slack_env,omitempty"`
	// PRComment comments on the event's pull request.
	PRComment bool `json:"pr_comment,omitempty"`
}

// TargetOf returns n's target.
func TargetOf(n config.Notify) Target {
	return Target{Webhook: n.Webhook, SecretEnv: n.SecretEnv, SlackEnv: n.SlackEnv, PRComment: n.PRComment}
}

// String names the target without a secret: a webhook's scheme and host,
// a Slack webhook's variable.
func (t Target) String() string {
	if t.SlackEnv != "" {
		return "slack ($" + t.SlackEnv + ")"
	}
	if t.PRComment {
		return "pull request comment"
	}
	s := t.Webhook
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.IndexAny(s[i+3:], "/?#"); j >= 0 {
			s = s[:i+3+j]
		}
	}
	return "webhook " + s
}

// Delivery is one notifications-queue message: an event for one target.
type Delivery struct {
	Event  Event  `json:"event"`
	Target Target `json:"target"`
}

// Key identifies the delivery: the event's key for this target.
func (d Delivery) Key() string {
	h := sha256.Sum256([]byte(d.Event.Key + "\n" + d.Target.Webhook + "\n" + d.Target.SlackEnv + "\n" + fmt.Sprint(d.Target.PRComment)))
	return "notify/" + hex.EncodeToString(h[:16])
}

// Summary is the event in one line of Slack mrkdwn.
func (e Event) Summary() string {
	what := e.App + " → " + e.Environment
	image := e.Digest
	if len(image) > 19 {
		image = image[:19]
	}
	if e.Tag != "" {
		image = e.Tag + " (" + image + ")"
	}
	pr := fmt.Sprintf("#%d", e.PR)
	switch {
	case strings.HasPrefix(e.PRURL, "https://") || strings.HasPrefix(e.PRURL, "http://"):
		pr = "<" + e.PRURL + "|#" + fmt.Sprint(e.PR) + ">"
	case e.PRURL != "":
		// The local forge's "URL" is the command that shows the PR.
		pr += " (`" + e.PRURL + "`)"
	}
	switch e.Event {
	case config.NotifyOpened:
		return fmt.Sprintf("*%s*: pull request %s opened for %s", what, pr, image)
	case config.NotifyUpdated:
		return fmt.Sprintf("*%s*: pull request %s now proposes %s", what, pr, image)
	case config.NotifyWaiting:
		return fmt.Sprintf("*%s*: %s waits for %d approval(s) in %s from %s", what, image, e.Approvals, pr, strings.Join(e.Approvers, ", "))
	case config.NotifyMerged:
		return fmt.Sprintf("*%s*: %s released (%s merged)", what, image, pr)
	case config.NotifyDeferred:
		return fmt.Sprintf("*%s*: %s deferred by a freeze until %s", what, image, e.Until.UTC().Format(time.RFC3339))
	case config.NotifyRefused:
		return fmt.Sprintf("*%s*: %s refused: %s", what, image, e.Reason)
	case config.NotifyDeadLettered:
		return fmt.Sprintf("*%s*: a %s message was dead-lettered: %s. Replay it with `%s`", e.App, e.Queue, e.Reason, e.Replay)
	}
	return what + ": " + e.Event
}

// Markdown is the event as a pull request comment: the summary in
// GitHub-flavoured Markdown, with the trace id to search the logs for.
func (e Event) Markdown() string {
	e.PRURL = "" // the comment is on the pull request itself
	s := e.Summary()
	what := "*" + e.App + " → " + e.Environment + "*"
	s = strings.Replace(s, what, "*"+what+"*", 1)
	return s + "\n\n<sub>Conveyor · `" + e.Event + "` · trace `" + e.TraceID + "`</sub>"
}
