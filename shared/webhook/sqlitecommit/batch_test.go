package sqlitecommit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

// TestBatchEqualsOneByOne applies seeded random events, whose keys
// overlap, some held by another request, some expired, some with a
// message the queue refuses, to two databases with the same records: in
// one batch on the first, one event per transaction on the second (the
// path an event takes alone). Every answer, every idempotency record and
// every queued message must be the same.
func TestBatchEqualsOneByOne(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(seed, 7))
			setup, events := randomBatch(r)
			batched, alone := newSide(t, setup), newSide(t, setup)

			bItems, aItems := batched.items(t, events), alone.items(t, events)
			var errs []error
			err := batched.db.Write(ctx, func(tx *sql.Tx) error {
				its := make([]any, len(bItems))
				for i, it := range bItems {
					its[i] = it
				}
				var err error
				errs, err = batched.c.batch.ApplyBatch(ctx, tx, its)
				return err
			})
			if err != nil {
				t.Fatalf("ApplyBatch: %v", err)
			}
			for i, it := range aItems {
				aErr := alone.db.Write(ctx, func(tx *sql.Tx) error { return alone.c.apply(ctx, tx, it) })
				if fmt.Sprint(aErr) != fmt.Sprint(errs[i]) {
					t.Errorf("event %d %v: batched error %v, alone %v", i, events[i].Keys, errs[i], aErr)
				}
				if aErr == nil && !cmp.Equal(bItems[i].out, it.out) {
					t.Errorf("event %d %v: batched answer %+v, alone %+v", i, events[i].Keys, bItems[i].out, it.out)
				}
			}
			if diff := cmp.Diff(alone.records(t), batched.records(t)); diff != "" {
				t.Errorf("idempotency records (-alone +batched):\n%s", diff)
			}
			if diff := cmp.Diff(alone.messages(t), batched.messages(t)); diff != "" {
				t.Errorf("queued messages (-alone +batched):\n%s", diff)
			}
		})
	}
}

// prior is a record an event may meet: completed by an earlier event,
// claimed by a request still running, or claimed and expired.
type prior struct {
	key, kind string
}

// randomBatch draws the records already there and the events of one
// batch. Keys come from a small pool, so that events share them.
func randomBatch(r *rand.Rand) ([]prior, []webhook.Commit) {
	key := func() string { return fmt.Sprintf("k%d", r.IntN(12)) }
	// One record a key: a second claim of a key would take over the
	// first only if its millisecond lease ran out first, which the two
	// sides need not agree on.
	var setup []prior
	seen := map[string]bool{}
	for range r.IntN(5) {
		p := prior{key(), []string{"completed", "held", "expired"}[r.IntN(3)]}
		if !seen[p.key] {
			seen[p.key] = true
			setup = append(setup, p)
		}
	}
	var events []webhook.Commit
	for i := range 1 + r.IntN(30) {
		var keys []string
		for range 1 + r.IntN(3) {
			keys = append(keys, key())
		}
		body := []byte(fmt.Sprintf(`{"event":%d}`, i))
		if r.IntN(7) == 0 {
			body = bytes.Repeat([]byte("x"), queue.MaxBodySize+1)
		}
		q := queue.Builds
		if r.IntN(3) == 0 {
			q = queue.Images
		}
		events = append(events, webhook.Commit{Keys: keys, Queue: q, Message: queue.SendInput{Body: body},
			Result: []byte(fmt.Sprintf(`"result %d"`, i)), Retention: time.Duration(1+r.IntN(3)) * time.Hour})
	}
	return setup, events
}

type side struct {
	db     *sqlitedb.DB
	broker *sqlitequeue.Broker
	store  *sqlitestate.Store
	c      *Committer
}

func newSide(t *testing.T, setup []prior) *side {
	t.Helper()
	ctx := context.Background()
	stack := OpenStack(t)
	db, st, c := stack.DB, stack.Store, stack.Committer
	var err error
	s := &side{db: db, broker: stack.Broker, store: st, c: c}
	for i, p := range setup {
		switch p.kind {
		case "completed":
			_, err = c.Commit(ctx, webhook.Commit{Keys: []string{p.key}, Queue: queue.Builds,
				Message: queue.SendInput{Body: []byte(fmt.Sprintf(`{"earlier":%d}`, i))}, Result: []byte(fmt.Sprintf(`"earlier %d"`, i)), Retention: time.Hour})
		case "held":
			_, _, err = st.Claim(ctx, p.key, time.Hour)
		case "expired":
			_, _, err = st.Claim(ctx, p.key, time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond) // the expired claims expire
	return s
}

func (s *side) items(t *testing.T, events []webhook.Commit) []*item {
	t.Helper()
	var out []*item
	for _, in := range events {
		q, err := s.broker.Queue(in.Queue)
		if err != nil {
			t.Fatal(err)
		}
		it := &item{in: in}
		it.msg, it.encErr = q.Encode(in.Message)
		out = append(out, it)
	}
	return out
}

// records lists the idempotency table, with each record's retention in
// place of the clock times, which differ between the two sides.
func (s *side) records(t *testing.T) []string {
	t.Helper()
	return s.rows(t, `SELECT key || ' ' || status || ' ' || quote(result) || ' ' || CAST((expires_at - updated_at) / 60000 AS INTEGER) FROM idempotency
		WHERE status = 'completed' OR expires_at > updated_at + 1000 ORDER BY key`)
}

// messages lists every queue's messages in the order they were sent.
func (s *side) messages(t *testing.T) []string {
	t.Helper()
	return s.rows(t, `SELECT queue || ' ' || CAST(body AS TEXT) || ' ' || attributes || ' ' || (visible_at - sent_at) FROM queue_messages ORDER BY seq`)
}

func (s *side) rows(t *testing.T, query string) []string {
	t.Helper()
	rows, err := s.db.SQL().Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(v))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
