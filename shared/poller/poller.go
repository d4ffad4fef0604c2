package poller

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Policy is the retry policy on an embedded queue: no cap on visibility or
// delay, so a hold lasts the whole wait.
func Policy(maxReceives int, b retry.Backoff) retry.Policy {
	if b == (retry.Backoff{}) {
		b = retry.DefaultBackoff
	}
	return retry.Policy{Backoff: b, MaxReceives: maxReceives, MaxVisibility: retry.Unlimited, MaxDelay: retry.Unlimited}
}

// Poller connects one queue to one consumer.
type Poller struct {
	// Function names the consumer in logs.
	Function string
	Queue    queue.Queue
	Consumer consume.Consumer
	// BatchSize is the most messages per batch (default 10).
	BatchSize int
	// Visibility hides a received batch while it runs (default 5
	// minutes); it is also the batch's deadline.
	Visibility time.Duration
	// Lease, when shorter than Visibility, is how long a received message
	// stays hidden unless the batch that holds it is still running: a
	// heartbeat renews it every third of Lease. A process that dies
	// mid-batch (a killed build) thus has its messages delivered again
	// within one Lease, not after the whole Visibility, while a long
	// batch in a live process is never handed to a second consumer.
	Lease time.Duration
	// PollInterval is the sleep between empty receives (default 250 ms).
	PollInterval time.Duration
	// Wake, when set, returns a channel closed when the queue gets a new
	// message, so an idle poller reacts at once.
	Wake   func() <-chan struct{}
	Logger *slog.Logger
}

func (p *Poller) defaults() {
	if p.BatchSize <= 0 {
		p.BatchSize = 10
	}
	if p.Visibility <= 0 {
		p.Visibility = 5 * time.Minute
	}
	if p.PollInterval <= 0 {
		p.PollInterval = 250 * time.Millisecond
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if p.Consumer.Log == nil {
		p.Consumer.Log = p.Logger
	}
}

// Run polls until ctx is done. A batch already received runs to
// completion (bounded by Visibility) before Run returns; messages not yet
// received stay in the queue.
func (p *Poller) Run(ctx context.Context) error {
	p.defaults()
	for {
		var wake <-chan struct{}
		if p.Wake != nil {
			wake = p.Wake()
		}
		n, err := p.Poll(ctx)
		if err != nil && ctx.Err() == nil {
			p.Logger.ErrorContext(ctx, "polling queue", "queue", p.Queue.Name(), "function", p.Function, "error", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(p.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Poll receives one batch and, when it is not empty, runs it and settles
// every message. It returns how many messages it received.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	p.defaults()
	hide := p.Visibility
	if p.Lease > 0 && p.Lease < hide {
		hide = p.Lease
	}
	msgs, err := p.Queue.Receive(ctx, p.BatchSize, hide)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	// The batch owns its messages now: finish it even if ctx ends, within
	// the visibility timeout after which they would be redelivered anyway.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.Visibility)
	defer cancel()
	stop := func() {}
	if hide < p.Visibility {
		stop = p.keepHidden(bctx, msgs, hide)
	}
	outcomes := p.Consumer.Batch(bctx, msgs)
	// Settling sets each message's own visibility (a retry's delay, a
	// hold): the heartbeat must not overwrite it.
	stop()
	var errs []error
	for _, o := range outcomes {
		if err := p.settle(bctx, o); err != nil {
			errs = append(errs, err)
		}
	}
	return len(msgs), errors.Join(errs...)
}

// keepHidden renews msgs' visibility to lease every third of it until the
// returned stop is called, and waits for a renewal in progress to end.
func (p *Poller) keepHidden(ctx context.Context, msgs []queue.Message, lease time.Duration) (stop func()) {
	// A queue that tells a renewal from a settlement (the embedded one)
	// learns that a receive its consumer died in was never settled.
	renew := p.Queue.ChangeVisibility
	if r, ok := p.Queue.(interface {
		Renew(ctx context.Context, receipt string, d time.Duration) error
	}); ok {
		renew = r.Renew
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, m := range msgs {
				if err := renew(ctx, m.ReceiptHandle, lease); err != nil {
					p.Logger.WarnContext(ctx, "renewing a message's lease", "queue", p.Queue.Name(), "function", p.Function,
						"message_id", m.ID, "error", err.Error())
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// settle applies one decision through the queue port.
func (p *Poller) settle(ctx context.Context, o consume.Outcome) error {
	m, d := o.Message, o.Decision
	log := p.Logger.With("queue", p.Queue.Name(), "function", p.Function, "message_id", m.ID,
		"trace_id", m.Attributes[queue.AttrTraceID], "receive_count", m.ReceiveCount)
	switch d.Action {
	case retry.Retry:
		log.WarnContext(ctx, "message failed, will retry", "reason", d.Reason, "retry_in", d.Delay.String())
		return p.Queue.Fail(ctx, m.ReceiptHandle, d.Reason, d.Delay)
	case retry.Hold:
		log.InfoContext(ctx, "message held", "reason", d.Reason, "visible_in", d.Delay.String())
		return p.Queue.ChangeVisibility(ctx, m.ReceiptHandle, d.Delay)
	case retry.Requeue:
		log.InfoContext(ctx, "message re-sent as a fresh message", "reason", d.Reason, "delay", d.Delay.String())
		if _, err := p.Queue.Send(ctx, consume.Requeued(m, d.Delay)); err != nil {
			return err
		}
	case retry.DeadLetter:
		log.WarnContext(ctx, "dead-lettering message", "reason", d.Reason)
		return p.Queue.DeadLetter(ctx, m.ReceiptHandle, d.Reason)
	}
	return p.Queue.Delete(ctx, m.ReceiptHandle)
}
