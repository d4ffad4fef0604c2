package runtime

import (
	"context"
	"sync"
)

// Outcome is what a handler tells the runtime about one failed message
// beyond its id in batchItemFailures: why it failed and whether retrying
// can help. Real Lambda has no such channel; handlers record the same facts
// in the state store themselves there.
type Outcome struct {
	Err       error
	Permanent bool
}

type outcomesKey struct{}

type outcomes struct {
	mu sync.Mutex
	m  map[string]Outcome
}

// Record attaches the outcome of message id to the batch running in ctx. It
// does nothing outside the local runtime.
func Record(ctx context.Context, id string, o Outcome) {
	if oc, ok := ctx.Value(outcomesKey{}).(*outcomes); ok {
		oc.mu.Lock()
		oc.m[id] = o
		oc.mu.Unlock()
	}
}

// Recording reports whether ctx belongs to a local runtime batch, which
// dead-letters permanent failures itself.
func Recording(ctx context.Context) bool {
	_, ok := ctx.Value(outcomesKey{}).(*outcomes)
	return ok
}

func withOutcomes(ctx context.Context) (context.Context, *outcomes) {
	oc := &outcomes{m: map[string]Outcome{}}
	return context.WithValue(ctx, outcomesKey{}, oc), oc
}
