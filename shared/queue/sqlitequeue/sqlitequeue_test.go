package sqlitequeue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/queuetest"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestContract(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	queuetest.Run(t, queuetest.Harness{
		New: func(t *testing.T, fifo bool, maxReceives int) (queue.Queue, queue.Queue) {
			ctx := context.Background()
			db, err := sqlitedb.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			b, err := sqlitequeue.Open(ctx, db, []queue.Spec{{Name: "work", FIFO: fifo, MaxReceives: maxReceives}}, sqlitequeue.WithClock(c.Now))
			if err != nil {
				t.Fatal(err)
			}
			q, _ := b.Queue("work")
			dlq, _ := b.Queue("work-dlq")
			return q, dlq
		},
		Advance: c.Advance,
	})
}
