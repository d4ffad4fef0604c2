package awsenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// WebhookHandler is the Lambda handler of the webhook ingress, for API
// Gateway HTTP API (payload 2.0) and function URL events.
type WebhookHandler func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Webhook builds the ingress on the builds, images and approvals queues and
// the state table. The webhook secret and registry token are read once
// here, so a missing secret fails the container's init, and then through
// the secret cache at each invocation: after a rotation the ingress is
// rebuilt with the new values.
func (e *Env) Webhook(ctx context.Context) (WebhookHandler, error) {
	st, err := e.State()
	if err != nil {
		return nil, err
	}
	var qs webhook.Queues
	for name, dst := range map[string]*webhook.Sender{queue.Builds: &qs.Builds, queue.Images: &qs.Images, queue.Approvals: &qs.Approvals} {
		q, err := e.Queue(name, nil)
		if err != nil {
			return nil, err
		}
		*dst = q
	}
	w := &rotatingIngress{e: e, queues: qs, idem: st}
	if _, err := w.ingress(ctx); err != nil {
		return nil, err
	}
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		h, err := w.ingress(ctx)
		if err != nil {
			e.Log.ErrorContext(ctx, "reading webhook secrets", "error", err.Error())
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusServiceUnavailable,
				Headers: map[string]string{"content-type": "application/json", "retry-after": "5"},
				Body:    `{"status":"error","error":"webhook secrets unavailable"}`}, nil
		}
		if containerTracer != nil {
			h = containerTracer.Ingress(h)
		}
		return webhook.LambdaHandler(containerMetrics.Ingress(h))(ctx, ev)
	}, nil
}

// rotatingIngress keeps one ingress per pair of secret values.
type rotatingIngress struct {
	e      *Env
	queues webhook.Queues
	idem   state.Idempotency

	mu                    sync.Mutex
	secret, token, gitlab []byte
	h                     http.Handler
}

func (w *rotatingIngress) ingress(ctx context.Context) (http.Handler, error) {
	secret, err := w.e.Secret(ctx, w.e.Config.WebhookSecret)
	if err != nil {
		return nil, err
	}
	token, err := w.e.Secret(ctx, w.e.Config.RegistryToken)
	if err != nil {
		return nil, err
	}
	var gitlab []byte
	if w.e.Config.GitLabWebhookToken.Set() {
		if gitlab, err = w.e.Secret(ctx, w.e.Config.GitLabWebhookToken); err != nil {
			return nil, err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.h != nil && bytes.Equal(secret, w.secret) && bytes.Equal(token, w.token) && bytes.Equal(gitlab, w.gitlab) {
		return w.h, nil
	}
	// A value pasted into Secrets Manager often ends in a newline that is
	// not part of the secret.
	h, err := webhook.New(webhook.Config{GitHubSecret: bytes.TrimRight(secret, "\r\n"), RegistryToken: string(bytes.TrimSpace(token)),
		GitLabToken: string(bytes.TrimSpace(gitlab)), MaxBody: w.e.Config.MaxBody, Logger: w.e.Log}, w.queues, w.idem)
	if err != nil {
		return nil, fmt.Errorf("building the webhook ingress: %w", err)
	}
	w.secret, w.token, w.gitlab, w.h = secret, token, gitlab, h
	return h, nil
}
