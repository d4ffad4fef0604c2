//go:build localstack

package localstack_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// open loads the configuration the needs describe from the environment
// that init.sh wrote (make localstack-e2e exports it) and opens it.
func open(t *testing.T, needs ...awsenv.Need) *awsenv.Env {
	t.Helper()
	if os.Getenv(awsenv.VarEndpoint) == "" {
		t.Fatalf("%s is not set: run `make localstack-e2e`, which exports localstack/.state/conveyor.env", awsenv.VarEndpoint)
	}
	cfg, err := awsenv.FromEnv(needs...)
	if err != nil {
		t.Fatal(err)
	}
	env, err := awsenv.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// receiveUntil receives from q until one message's body contains want.
func receiveUntil(t *testing.T, q queue.Queue, want string) queue.Message {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := q.Receive(ctx, 10, 5*time.Second)
		if err != nil {
			t.Fatalf("receiving from %s: %v", q.Name(), err)
		}
		for _, m := range msgs {
			if bytes.Contains(m.Body, []byte(want)) {
				return m
			}
			// Someone else's message: let it be received again.
			_ = q.ChangeVisibility(ctx, m.ReceiptHandle, 0)
		}
	}
	t.Fatalf("no message containing %q on %s", want, q.Name())
	return queue.Message{}
}

// TestWebhookEnqueuesBuild drives the webhook function's handler as API
// Gateway would: the secret comes from Secrets Manager by ARN, the
// delivery is claimed in DynamoDB, and the push lands on the builds queue.
func TestWebhookEnqueuesBuild(t *testing.T) {
	env := open(t, awsenv.Table, awsenv.Webhook, awsenv.Sender(queue.Builds), awsenv.Sender(queue.Images), awsenv.Sender(queue.Approvals))
	ctx := context.Background()
	h, err := env.Webhook(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../events/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := env.Secret(ctx, env.Config.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	delivery := fmt.Sprintf("localstack-%d", time.Now().UnixNano())
	req := events.APIGatewayV2HTTPRequest{
		RawPath: "/webhooks/github",
		Body:    string(body),
		Headers: map[string]string{
			"content-type":        "application/json",
			"x-github-event":      "push",
			"x-github-delivery":   delivery,
			"x-hub-signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)),
		},
	}
	req.RequestContext.HTTP.Method = http.MethodPost
	resp, err := h(ctx, req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /webhooks/github = %d %s, %v; want 202", resp.StatusCode, resp.Body, err)
	}
	builds, err := env.Queue(queue.Builds, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := receiveUntil(t, builds, delivery)
	if err := builds.Delete(ctx, m.ReceiptHandle); err != nil {
		t.Fatal(err)
	}

	// The same delivery again is a duplicate: nothing more is enqueued.
	resp, err = h(ctx, req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("redelivery = %d %s, %v; want 200 duplicate", resp.StatusCode, resp.Body, err)
	}
}

// TestDeadLetterKeepsReason sends to the images queue, dead-letters the
// message as a permanent failure and finds it, with its reason, on the
// images DLQ, as the registry function would.
func TestDeadLetterKeepsReason(t *testing.T) {
	env := open(t, awsenv.Table, awsenv.Consumer(queue.Images))
	ctx := context.Background()
	st, err := env.State()
	if err != nil {
		t.Fatal(err)
	}
	images, err := env.Queue(queue.Images, st)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := env.DeadLetterQueue(queue.Images, st)
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf(`{"localstack":"%d"}`, time.Now().UnixNano())
	if _, err := images.Send(ctx, queue.SendInput{Body: []byte(marker)}); err != nil {
		t.Fatal(err)
	}
	m := receiveUntil(t, images, marker)
	if err := images.DeadLetter(ctx, m.ReceiptHandle, "localstack: permanent"); err != nil {
		t.Fatal(err)
	}
	d := receiveUntil(t, dead, marker)
	if err := dead.Delete(ctx, d.ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	if d.Attributes["dead_reason"] == "" && d.LastError == "" {
		t.Errorf("dead letter %s carries no reason (attributes %v)", d.ID, d.Attributes)
	}
}
