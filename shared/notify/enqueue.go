package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Notifier tells receivers about an event. Notify never fails: telling is
// never a reason to hold a promotion back.
type Notifier interface {
	Notify(ctx context.Context, ev Event)
}

// Multi tells every Notifier in turn.
type Multi []Notifier

// Notify tells each.
func (m Multi) Notify(ctx context.Context, ev Event) {
	for _, n := range m {
		n.Notify(ctx, ev)
	}
}

// Enqueuer is the Notifier of the pipeline's handlers: it queues one
// Delivery per receiver of the event's app and environment.
type Enqueuer struct {
	Config config.Loader
	Queue  queue.Sender
	Log    *slog.Logger
	Now    func() time.Time
}

var _ Notifier = (*Enqueuer)(nil)

// dropped counts notifications that could not be queued, for metrics.
var dropped atomic.Int64

// Dropped returns how many notifications this process could not queue.
func Dropped() int64 { return dropped.Load() }

// Key joins the parts that identify an event into its key.
func Key(parts ...string) string { return strings.Join(parts, "/") }

// Notify queues ev for each receiver that wants it. Failures are logged
// and counted, never returned.
func (e *Enqueuer) Notify(ctx context.Context, ev Event) {
	log := e.Log
	if log == nil {
		log = slog.Default()
	}
	if ev.At.IsZero() {
		now := time.Now
		if e.Now != nil {
			now = e.Now
		}
		ev.At = now().UTC()
	}
	receivers, err := e.receivers(ctx, &ev)
	if err != nil {
		dropped.Add(1)
		log.WarnContext(ctx, "notification not queued: reading the pipeline", "event", ev.Event, "key", ev.Key, "error", err.Error())
		return
	}
	for _, n := range receivers {
		d := Delivery{Event: ev, Target: TargetOf(n)}
		if err := e.send(ctx, d); err != nil {
			dropped.Add(1)
			log.WarnContext(ctx, "notification not queued", "event", ev.Event, "key", ev.Key, "target", d.Target.String(), "error", err.Error())
		}
	}
}

// receivers returns the receivers that want ev, and completes a waiting
// event with who may approve; an environment that releases by itself
// waits for nobody, so its waiting event goes nowhere.
func (e *Enqueuer) receivers(ctx context.Context, ev *Event) ([]config.Notify, error) {
	if e.Config == nil || e.Queue == nil || ev.App == "" {
		return nil, nil
	}
	cfg, err := e.Config.Load(ctx)
	if err != nil {
		return nil, err
	}
	app, ok := cfg.App(ev.App)
	if !ok {
		return nil, nil
	}
	var env *config.Environment
	if ev.Environment != "" {
		if env, _, ok = app.Env(ev.Environment); !ok {
			env = nil
		}
	}
	if ev.Event == config.NotifyWaiting {
		if env == nil || env.Release != config.ReleaseManual {
			return nil, nil
		}
		ev.Approvers, ev.Approvals = env.Reviewers, env.Approvals
	}
	var out []config.Notify
	for _, n := range app.Receivers(env) {
		if n.PRComment && ev.PR == 0 {
			continue // nothing to comment on: refused, deferred, dead-lettered
		}
		if n.Wants(ev.Event) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (e *Enqueuer) send(ctx context.Context, d Delivery) error {
	env, err := event.New(event.KindNotification, "conveyor", d.Key(), d.Event.TraceID, d, d.Event.At)
	if err != nil {
		return err
	}
	// The delivery key is the envelope id too: a second Notify of the
	// same event is the same message, deduplicated again by the consumer.
	env.ID = d.Key()
	_, err = queue.SendEnvelope(ctx, e.Queue, env, "", d.Key(), d.Event.App)
	return err
}
