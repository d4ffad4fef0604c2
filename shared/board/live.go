package board

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/state"
)

// versionDepth is how many of the last changed records version reads:
// every write makes its record the last changed one, so that set changes
// with each write unless more than this many land in one millisecond.
const versionDepth = 16

// version fingerprints what the pages show from the records and queues:
// the last changed releases' ids, revisions and states, and every queue's
// counters. It changes whenever a page would, and reads the same few
// records each poll however long the history; "" when the records cannot
// be read.
func (b *Board) version(ctx context.Context) string {
	rels, err := b.src.Releases.ListReleases(ctx, state.ReleaseFilter{Newest: versionDepth, ByUpdate: true})
	if err != nil {
		b.log.WarnContext(ctx, "reading the records' version", "err", err)
		return ""
	}
	h := fnv.New64a()
	for _, r := range rels {
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00", r.ID, r.Version, r.State)
	}
	if b.src.Queues != nil {
		if stats, err := b.src.Queues.QueueStats(ctx); err == nil {
			names := make([]string, 0, len(stats))
			for n := range stats {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				s := stats[n]
				fmt.Fprintf(h, "%s\x00%d %d %d %d\x00", n, s.Visible, s.InFlight, s.Delayed, s.Dead)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// live polls the version while at least one page listens, and tells every
// listener when it changes: one poll however many pages are open.
type live struct {
	every   time.Duration
	version func(context.Context) string

	mu      sync.Mutex
	current string
	subs    map[chan string]struct{}
	stop    context.CancelFunc
}

// subscribe returns a channel of new versions (the current one first) and
// its cancel.
func (l *live) subscribe() (<-chan string, func()) {
	ch := make(chan string, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs == nil {
		l.subs = map[chan string]struct{}{}
	}
	l.subs[ch] = struct{}{}
	if len(l.subs) == 1 {
		ctx, stop := context.WithCancel(context.Background())
		l.stop = stop
		l.current = l.version(ctx)
		go l.poll(ctx)
	}
	ch <- l.current
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.subs, ch)
		if len(l.subs) == 0 && l.stop != nil {
			l.stop()
			l.stop = nil
		}
	}
}

func (l *live) poll(ctx context.Context) {
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := l.version(ctx)
		if v == "" || ctx.Err() != nil {
			continue
		}
		l.mu.Lock()
		if v != l.current {
			l.current = v
			for ch := range l.subs {
				// A listener that has not taken the last version gets
				// this one instead: only the newest matters.
				select {
				case <-ch:
				default:
				}
				ch <- v
			}
		}
		l.mu.Unlock()
	}
}

// events streams the data's version as server-sent events: the page's
// script refreshes itself when the version differs from the one it was
// rendered from.
func (b *Board) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	// The server's write timeout would cut a long stream; the browser
	// reconnects by itself, so each stream lasts a bounded while.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ch, cancel := b.live.subscribe()
	defer cancel()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	end := time.NewTimer(5 * time.Minute)
	defer end.Stop()
	fmt.Fprint(w, "retry: 1000\n\n")
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-end.C:
			return
		case <-b.done:
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case v := <-ch:
			fmt.Fprintf(w, "event: version\ndata: %s\n\n", v)
		}
		flusher.Flush()
	}
}

// versionJSON answers {"version": "…"}: what a script without
// EventSource, or a test, polls.
func (b *Board) versionJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"version": b.version(r.Context())})
}
