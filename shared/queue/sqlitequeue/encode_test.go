package sqlitequeue_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestEncodedSendsWhatSendTxSends: a message encoded ahead of its
// transaction is refused for what SendTx refuses, and once sent is received
// as SendTx's would be.
func TestEncodedSendsWhatSendTxSends(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sqlitequeue.Open(ctx, db, []queue.Spec{{Name: "plain"}, {Name: "ordered", FIFO: true}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		queue   string
		in      queue.SendInput
		wantErr error
	}{
		{"attributes", "plain", queue.SendInput{Body: []byte(`{"a":1}`), Attributes: map[string]string{queue.AttrKind: "push", queue.AttrTraceID: "t1"}}, nil},
		{"no attributes", "plain", queue.SendInput{Body: []byte(`{}`)}, nil},
		{"group and dedupe id", "ordered", queue.SendInput{Body: []byte(`{}`), GroupID: "web/dev", DedupeID: "d1"}, nil},
		{"too large", "plain", queue.SendInput{Body: bytes.Repeat([]byte("x"), queue.MaxBodySize+1)}, queue.ErrTooLarge},
		{"FIFO without a group", "ordered", queue.SendInput{Body: []byte(`{}`)}, queue.ErrNoGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := b.Queue(tt.queue)
			if err != nil {
				t.Fatal(err)
			}
			m, err := q.Encode(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Encode: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var id string
			if err := db.Write(ctx, func(tx *sql.Tx) error { id, err = m.SendTx(ctx, tx); return err }); err != nil {
				t.Fatal(err)
			}
			got, err := q.Receive(ctx, 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			want := []queue.Message{{ID: id, Body: tt.in.Body, GroupID: tt.in.GroupID, DedupeID: tt.in.DedupeID,
				Attributes: tt.in.Attributes, ReceiveCount: 1}}
			opts := cmpopts.IgnoreFields(queue.Message{}, "ReceiptHandle", "SentAt", "FirstReceivedAt")
			if diff := cmp.Diff(want, got, opts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
		})
	}
}
