package board

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
)

type opsPage struct {
	page
	Queues []queueRow
	// NoStats and NoDead say which port the board was not given.
	NoStats, NoDead bool
}

type queueRow struct {
	Name    string
	DLQ     string
	FIFO    bool
	Stats   queue.Stats
	Reasons []reasonCount
	Dead    []deadLetter
	// Unlisted counts dead letters the queue holds that the lister did
	// not return: on AWS, those with no record (dead-lettered before
	// records were kept, or whose record could not be written).
	Unlisted int
}

type reasonCount struct {
	Reason string
	Count  int
}

type deadLetter struct {
	replay.Record
	// Payload is the envelope's payload (or the raw body) indented, with
	// any credentials in URLs removed.
	Payload string
}

func (b *Board) ops(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := opsPage{page: page{Title: "Operations", Nav: "ops", Version: b.version(ctx), Now: b.now()}}
	var stats map[string]queue.Stats
	if b.src.Queues == nil {
		p.NoStats = true
	} else {
		var err error
		if stats, err = b.src.Queues.QueueStats(ctx); err != nil {
			b.fail(ctx, w, "the queues", err)
			return
		}
	}
	var dead []replay.Record
	if b.src.Dead == nil {
		p.NoDead = true
	} else {
		var err error
		if dead, err = b.listDead(ctx); err != nil {
			b.fail(ctx, w, "the dead letters", err)
			return
		}
	}
	for _, s := range queue.Topology {
		row := queueRow{Name: s.Name, DLQ: queue.DeadLetterName(s.Name), FIFO: s.FIFO, Stats: stats[s.Name]}
		reasons := map[string]int{}
		for _, d := range dead {
			if d.Queue != s.Name {
				continue
			}
			row.Dead = append(row.Dead, deadLetter{Record: d, Payload: payloadText(d)})
			reasons[firstLine(d.Reason)]++
		}
		if !p.NoStats && !p.NoDead {
			row.Unlisted = max(0, row.Stats.Dead-len(row.Dead))
		}
		for reason, n := range reasons {
			row.Reasons = append(row.Reasons, reasonCount{Reason: reason, Count: n})
		}
		sort.Slice(row.Reasons, func(i, j int) bool {
			if row.Reasons[i].Count != row.Reasons[j].Count {
				return row.Reasons[i].Count > row.Reasons[j].Count
			}
			return row.Reasons[i].Reason < row.Reasons[j].Reason
		})
		p.Queues = append(p.Queues, row)
	}
	b.render(ctx, w, r, "ops", p)
}

// listDead lists every dead letter, giving back at once what a lister that
// hides what it lists (SQS) held: the page only reads.
func (b *Board) listDead(ctx context.Context) ([]replay.Record, error) {
	all, err := b.src.Dead.List(ctx, "")
	if rel, ok := b.src.Dead.(replay.Releaser); ok && len(all) > 0 {
		_ = rel.Release(context.WithoutCancel(ctx), all)
	}
	return all, err
}

func payloadText(d replay.Record) string {
	raw := d.Body
	if d.Envelope != nil {
		raw = d.Envelope.Payload
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		buf.Reset()
		buf.Write(raw)
	}
	if d.BodySize > 0 {
		fmt.Fprintf(&buf, "\n… cut: %d of its %d bytes were recorded; `conveyor replay list` shows the whole body", len(d.Body), d.BodySize)
	}
	return logging.RedactURLs(buf.String())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
