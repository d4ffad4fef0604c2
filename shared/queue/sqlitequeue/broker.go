package sqlitequeue

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS queue_messages (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		id TEXT NOT NULL UNIQUE,
		queue TEXT NOT NULL,
		body BLOB NOT NULL,
		group_id TEXT NOT NULL DEFAULT '',
		dedupe_id TEXT NOT NULL DEFAULT '',
		attributes TEXT NOT NULL DEFAULT '{}',
		sent_at INTEGER NOT NULL,
		visible_at INTEGER NOT NULL,
		receive_count INTEGER NOT NULL DEFAULT 0,
		first_received_at INTEGER NOT NULL DEFAULT 0,
		receipt TEXT NOT NULL DEFAULT '',
		last_error TEXT NOT NULL DEFAULT '',
		source_queue TEXT NOT NULL DEFAULT '',
		dead_at INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages(queue, visible_at, seq)`,
	`CREATE INDEX IF NOT EXISTS queue_messages_group ON queue_messages(queue, group_id, seq)`,
	`CREATE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages(receipt)`,
	`CREATE TABLE IF NOT EXISTS queue_dedupe (
		queue TEXT NOT NULL,
		dedupe_id TEXT NOT NULL,
		message_id TEXT NOT NULL,
		expires_at INTEGER NOT NULL,
		PRIMARY KEY (queue, dedupe_id)
	)`,
}

// Broker owns the queues stored in one database.
type Broker struct {
	db     *sqlitedb.DB
	now    func() time.Time
	queues map[string]*Queue

	mu      sync.Mutex
	waiters map[string]chan struct{}
}

// Option configures a Broker.
type Option func(*Broker)

// WithClock replaces time.Now, for tests of visibility and delays.
func WithClock(now func() time.Time) Option { return func(b *Broker) { b.now = now } }

// Open creates the tables if needed and returns a broker serving each spec's
// queue and its dead-letter queue.
func Open(ctx context.Context, db *sqlitedb.DB, specs []queue.Spec, opts ...Option) (*Broker, error) {
	b := &Broker{db: db, now: time.Now, queues: map[string]*Queue{}, waiters: map[string]chan struct{}{}}
	for _, o := range opts {
		o(b)
	}
	if err := db.Migrate(ctx, schema...); err != nil {
		return nil, err
	}
	// Added after the first release of the schema: tolerate databases
	// that already have the column.
	if err := db.Migrate(ctx, `ALTER TABLE queue_messages ADD COLUMN first_error TEXT NOT NULL DEFAULT ''`); err != nil &&
		!strings.Contains(err.Error(), "duplicate column") {
		return nil, err
	}
	// Whether a message's last receive was settled, and how many receives
	// died unsettled (see Receive).
	if err := db.AddColumns(ctx, "queue_messages", "settled INTEGER NOT NULL DEFAULT 1", "abandoned INTEGER NOT NULL DEFAULT 0"); err != nil {
		return nil, err
	}
	for _, s := range specs {
		if s.Name == "" {
			return nil, fmt.Errorf("opening queues: a spec has no name")
		}
		if _, dup := b.queues[s.Name]; dup {
			return nil, fmt.Errorf("opening queues: %q configured twice", s.Name)
		}
		dlq := &Queue{b: b, name: s.DeadLetter(), fifo: false}
		b.queues[s.Name] = &Queue{b: b, name: s.Name, fifo: s.FIFO, maxReceives: s.MaxReceives, dlq: dlq.name}
		b.queues[dlq.name] = dlq
	}
	return b, nil
}

// Queue returns the named queue (a work queue or a dead-letter queue).
func (b *Broker) Queue(name string) (*Queue, error) {
	q, ok := b.queues[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", queue.ErrUnknownQueue, name)
	}
	return q, nil
}

// Wait returns a channel closed at the next send to the named queue in this
// process, so a poller can sleep without adding latency.
func (b *Broker) Wait(name string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch, ok := b.waiters[name]
	if !ok {
		ch = make(chan struct{})
		b.waiters[name] = ch
	}
	return ch
}

func (b *Broker) wake(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.waiters[name]; ok {
		close(ch)
		delete(b.waiters, name)
	}
}

func (b *Broker) nowMillis() int64 { return b.now().UnixMilli() }
