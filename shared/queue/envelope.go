package queue

import (
	"context"

	"github.com/conveyor-gitops/conveyor/shared/event"
)

// Sender is the sending half of a queue.
type Sender interface {
	Send(ctx context.Context, in SendInput) (string, error)
}

// SendEnvelope encodes env and sends it with the attributes operators
// filter on (kind, trace id, app).
func SendEnvelope(ctx context.Context, q Sender, env *event.Envelope, group, dedupe, app string) (string, error) {
	body, err := env.Encode()
	if err != nil {
		return "", err
	}
	attrs := map[string]string{AttrKind: string(env.Kind), AttrTraceID: env.TraceID}
	if app != "" {
		attrs[AttrApp] = app
	}
	return q.Send(ctx, SendInput{Body: body, GroupID: group, DedupeID: dedupe, Attributes: attrs})
}
