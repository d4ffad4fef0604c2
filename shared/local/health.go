package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// PathReady answers readiness: 200 once every consumer runs and the
// database and registry are open and accept writes, 503 before and while
// shutting down. webhook.PathHealth answers health (liveness): 200 while
// the database accepts writes and every consumer loop is alive and
// consuming its queue.
const PathReady = "/readyz"

// DefaultStallAfter is how long a consumer loop may go without turning, or
// leave visible messages in its queue without handling any, before
// /healthz calls it stalled.
const DefaultStallAfter = 30 * time.Second

// consumer is one consumer loop's heartbeat.
type consumer struct {
	name, queue string
	mu          sync.Mutex
	running     bool
	loop        time.Time // the loop last turned (before each receive)
	handled     time.Time // the handler was last invoked
	busy        int       // invocations in progress
}

func (c *consumer) set(f func(c *consumer)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// beat records a turn of the loop.
func (c *consumer) beat() { c.set(func(c *consumer) { c.loop = time.Now() }) }

// wrap marks the consumer busy while h runs: a long build is alive even
// though its loop does not turn.
func (c *consumer) wrap(fn consume.Func) consume.Func {
	return func(ctx context.Context, env *event.Envelope) error {
		c.set(func(c *consumer) { c.busy++; c.handled = time.Now() })
		defer c.set(func(c *consumer) { c.busy--; c.handled = time.Now() })
		return fn(ctx, env)
	}
}

// health is what the runtime knows of its own liveness.
type health struct {
	mu        sync.Mutex
	ready     bool
	consumers []*consumer
}

func (h *health) add(name, queue string) *consumer {
	now := time.Now()
	c := &consumer{name: name, queue: queue, running: true, loop: now, handled: now}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.consumers = append(h.consumers, c)
	return c
}

func (h *health) setReady(ready bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ready = ready
}

// Status is the body of /healthz and /readyz.
type Status struct {
	// Status is ok, unhealthy or not ready.
	Status string `json:"status"`
	// Problems say what is wrong, one sentence each.
	Problems []string `json:"problems,omitempty"`
	// Consumers maps each consumer to its state: ok, busy, stalled or
	// stopped.
	Consumers map[string]string `json:"consumers,omitempty"`
}

// Health checks that the database accepts a write and that every consumer
// loop is alive and consuming.
func (r *Runtime) Health(ctx context.Context) Status {
	st := Status{Status: "ok", Consumers: map[string]string{}}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.DB.CheckWrite(wctx); err != nil {
		st.Problems = append(st.Problems, "the database does not accept writes: "+err.Error())
	}
	stall := r.opts.StallAfter
	if stall <= 0 {
		stall = DefaultStallAfter
	}
	r.health.mu.Lock()
	cs := append([]*consumer(nil), r.health.consumers...)
	r.health.mu.Unlock()
	for _, c := range cs {
		state, problem := r.consumerState(ctx, c, stall)
		st.Consumers[c.name] = state
		if problem != "" {
			st.Problems = append(st.Problems, problem)
		}
	}
	sort.Strings(st.Problems)
	if len(st.Problems) > 0 {
		st.Status = "unhealthy"
	}
	return st
}

func (r *Runtime) consumerState(ctx context.Context, c *consumer, stall time.Duration) (string, string) {
	c.mu.Lock()
	running, busy, loop, handled := c.running, c.busy, c.loop, c.handled
	c.mu.Unlock()
	switch {
	case !running:
		return "stopped", fmt.Sprintf("consumer %s of %s has stopped", c.name, c.queue)
	case busy > 0:
		return "busy", ""
	case time.Since(loop) > stall:
		return "stalled", fmt.Sprintf("consumer %s has not polled %s for %s", c.name, c.queue, time.Since(loop).Round(time.Second))
	}
	if time.Since(handled) > stall {
		// The loop turns but nothing is handled: fine if nothing waits.
		if s, err := r.Queues.Stats(ctx, c.queue); err == nil && s.Visible > 0 {
			return "stalled", fmt.Sprintf("consumer %s has handled nothing for %s while %d message(s) wait in %s",
				c.name, time.Since(handled).Round(time.Second), s.Visible, c.queue)
		}
	}
	return "ok", ""
}

// Ready is Health, and also requires that Run has started every consumer
// and listener and is not shutting down.
func (r *Runtime) Ready(ctx context.Context) Status {
	r.health.mu.Lock()
	ready := r.health.ready
	r.health.mu.Unlock()
	if !ready {
		return Status{Status: "not ready", Problems: []string{"the runtime is starting or shutting down"}}
	}
	st := r.Health(ctx)
	if st.Status != "ok" {
		st.Status = "not ready"
	}
	return st
}

// PathMetrics is where Handler serves the runtime's Prometheus metrics.
const PathMetrics = "/metrics"

// Handler serves the ingress, with /healthz and /readyz answered from the
// runtime's own checks, /metrics from its metrics, and the board at / when one was set (ServeBoard):
// the ingress keeps /webhooks/.
func (r *Runtime) Handler() http.Handler {
	mux := http.NewServeMux()
	r.mu.Lock()
	ui := r.board
	r.mu.Unlock()
	if ui != nil {
		mux.Handle(webhook.PathPrefix, r.Ingress)
		mux.Handle("/", ui)
	} else {
		mux.Handle("/", r.Ingress)
	}
	mux.Handle("GET "+PathMetrics, r.Metrics.Handler())
	mux.HandleFunc("GET "+webhook.PathHealth, func(w http.ResponseWriter, req *http.Request) {
		writeStatus(w, r.Health(req.Context()))
	})
	mux.HandleFunc("GET "+PathReady, func(w http.ResponseWriter, req *http.Request) {
		writeStatus(w, r.Ready(req.Context()))
	})
	return mux
}

// ServeBoard serves h (the pipeline board) beside the ingress, on its port;
// call it before Run.
func (r *Runtime) ServeBoard(h http.Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.board = h
}

func writeStatus(w http.ResponseWriter, st Status) {
	code := http.StatusOK
	if st.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(st)
}
