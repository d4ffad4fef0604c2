package logging_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/source"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const credentialed = "https://user:s3cret@127.0.0.1:1/x.git"

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
	env, _ := event.New(event.KindPush, "github", "d1", "trace-1", event.Push{Repository: "acme/web", After: "abc"}, time.Now())
	body, _ := env.Encode()
	c := consume.Consumer{Log: logging.New(&logs, slog.LevelInfo), Policy: retry.Policy{MaxReceives: 5},
		Fn: func(context.Context, *event.Envelope) error {
			return retry.Permanent(fmt.Errorf("loading conveyor.yaml from %s: refused", credentialed))
		}}
	out := c.Batch(ctx, []queue.Message{{ID: "m1", Body: body, ReceiveCount: 1}})
	if len(out) != 1 || out[0].Decision.Action != retry.DeadLetter {
		t.Fatalf("decisions %+v: want the message dead-lettered", out)
	}
	if reason := out[0].Decision.Reason; strings.Contains(reason, "s3cret") || !strings.Contains(reason, "127.0.0.1:1/x.git") {
		t.Errorf("dead-letter reason %q leaks the credentials or lost the URL", reason)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("log lines leak the credentials:\n%s", logs.String())
	}
}
