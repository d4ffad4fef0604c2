package test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a small in-process OTLP/HTTP collector: it decodes each
// export and keeps every span's name by trace id.
type otlpReceiver struct {
	mu     sync.Mutex
	traces map[string][]string
}

func newOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	rc := &otlpReceiver{traces: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "OTLP/HTTP protobuf traces only", http.StatusUnsupportedMediaType)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					id := hex.EncodeToString(s.GetTraceId())
					rc.traces[id] = append(rc.traces[id], s.GetName())
				}
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *otlpReceiver) spans(traceID string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := append([]string(nil), rc.traces[traceID]...)
	sort.Strings(out)
	return out
}

// TestTraces: a change pushed through dev, staging and prod (approved)
// is one OpenTelemetry trace, under the trace id its logs carry, with a
// span for the ingress and for each queue wait and handling on its way.
func TestTraces(t *testing.T) {
	rc, endpoint := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	c := newChain(t)
	c.push(demo.AppFiles(), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	c.settle()
	pr := c.openPR()
	trace := c.releases("dev")[0].TraceID
	if err := c.g.Local.Approve(t.Context(), pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	// Three environments: three promotions, each waited for and handled.
	// The spans reach the collector in batches, after the handlers
	// return, so the test waits for every one of them before it counts.
	want := map[string]int{"ingress /webhooks/github": 1, "wait builds": 1, "handle build": 1, "wait promotions": 3, "handle promote": 3, "wait approvals": 1, "handle approval": 1}
	counts := func() map[string]int {
		count := map[string]int{}
		for _, s := range rc.spans(trace) {
			count[s]++
		}
		return count
	}
	waitFor(t, "the change's spans", 20*time.Second, func() bool {
		count := counts()
		for name, n := range want {
			if count[name] < n {
				return false
			}
		}
		return true
	})
	count := counts()
	if count["handle promote"] != 3 || count["wait promotions"] != 3 || count["handle build"] != 1 || count["ingress /webhooks/github"] != 1 {
		got := rc.spans(trace)
		t.Errorf("spans of trace %s: %v", trace, got)
	}
}
