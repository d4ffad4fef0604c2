package replay

import (
	"context"
	"fmt"
	"sort"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
)

// Embedded is the Dead of the embedded queues.
type Embedded struct {
	b      *sqlitequeue.Broker
	queues []string
}

var _ Dead = (*Embedded)(nil)

// NewEmbedded returns the dead letters of broker b's work queues named
// queues, by default every queue of queue.Topology.
func NewEmbedded(b *sqlitequeue.Broker, queues ...string) *Embedded {
	if len(queues) == 0 {
		for _, s := range queue.Topology {
			queues = append(queues, s.Name)
		}
	}
	return &Embedded{b: b, queues: queues}
}

// List returns the dead letters of work queue name, or of every queue
// when name is "", oldest first.
func (e *Embedded) List(ctx context.Context, name string) ([]Record, error) {
	names := e.queues
	if name != "" {
		names = []string{name}
	}
	var out []Record
	for _, n := range names {
		dead, err := e.b.DeadLetters(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("reading the dead letters of %s: %w", n, err)
		}
		for _, d := range dead {
			out = append(out, fromDead(d))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DeadAt.Before(out[j].DeadAt) })
	return out, nil
}

// Get returns one dead letter with its redrive history, or ErrNotDead.
func (e *Embedded) Get(ctx context.Context, id string) (Record, error) {
	d, err := e.b.DeadLetter(ctx, id)
	if err != nil {
		return Record{}, err
	}
	r := fromDead(d)
	hist, err := e.b.RedriveHistory(ctx, id)
	if err != nil {
		return Record{}, err
	}
	for _, h := range hist {
		r.History = append(r.History, Attempt{Reason: h.Reason, ReceiveCount: h.ReceiveCount, DeadAt: h.DeadAt, RedrivenAt: h.RedrivenAt})
	}
	return r, nil
}

// Redrive moves r back to its work queue in one transaction, bumping its
// envelope's Replayed counter, or returns ErrNotDead.
func (e *Embedded) Redrive(ctx context.Context, r Record) error {
	return e.b.Redrive(ctx, r.ID, sqlitequeue.WithRewrite(Bump))
}

func fromDead(d sqlitequeue.DeadMessage) Record {
	r := newRecord(d.ID, d.SourceQueue, d.Body, d.Attributes)
	r.Reason, r.ReceiveCount, r.SentAt, r.DeadAt = d.Reason, d.ReceiveCount, d.SentAt.UTC(), d.DeadAt.UTC()
	if d.FirstError != "" && d.FirstError != d.Reason {
		r.FirstError = d.FirstError
	}
	return r
}
