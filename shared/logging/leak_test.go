package logging_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
	"github.com/conveyor-gitops/conveyor/shared/source"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const credentialed = "https://user:s3cret@127.0.0.1:1/x.git"

type deadLetters struct{ reasons []string }

func (d *deadLetters) DeadLetter(_ context.Context, _, reason string) error {
	d.reasons = append(d.reasons, reason)
	return nil
}

// TestCredentialsInAGitURLNeverLeave clones from a URL carrying credentials
// (as --gitops https://user:TOKEN@… does): neither the returned errors, nor
// the log lines, nor the dead-letter reason of the message that failed on
// them contain the secret.
func TestCredentialsInAGitURLNeverLeave(t *testing.T) {
	ctx := context.Background()
	_, checkoutErr := source.Checkout(ctx, credentialed, "main", strings.Repeat("a", 40), filepath.Join(t.TempDir(), "c"), nil)
	_, _, readErr := gitops.ReadFile(ctx, credentialed, "main", "conveyor.yaml", nil)
	// A token alone in the user name is not a password: url.Redacted keeps it.
	repo, err := gitops.New("https://ghs_s3cret@127.0.0.1:1/x.git", "main", nil, object.Signature{Name: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	_, branchErr := repo.BranchHead(ctx, "conveyor/web-dev")
	for name, err := range map[string]error{"checkout": checkoutErr, "read": readErr, "gitops repo": branchErr} {
		if err == nil {
			t.Fatalf("%s from a closed port succeeded", name)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s error leaks the credentials: %v", name, err)
		}
	}

	// A handler failing with an error that still holds the URL (any
	// library's) is logged and dead-lettered without it.
	var logs bytes.Buffer
	dlq := &deadLetters{}
	env, _ := event.New(event.KindPush, "github", "d1", "trace-1", event.Push{Repository: "acme/web", After: "abc"}, time.Now())
	body, _ := env.Encode()
	resp := runtime.Each(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: string(body)}}},
		logging.New(&logs, slog.LevelInfo), dlq, func(context.Context, *event.Envelope) error {
			return retry.Permanent(fmt.Errorf("loading conveyor.yaml from %s: refused", credentialed))
		})
	if len(resp.BatchItemFailures) != 0 || len(dlq.reasons) != 1 {
		t.Fatalf("failures %v, dead letters %q: want the message dead-lettered", resp.BatchItemFailures, dlq.reasons)
	}
	if strings.Contains(dlq.reasons[0], "s3cret") || !strings.Contains(dlq.reasons[0], "127.0.0.1:1/x.git") {
		t.Errorf("dead-letter reason %q leaks the credentials or lost the URL", dlq.reasons[0])
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("log lines leak the credentials:\n%s", logs.String())
	}
}
