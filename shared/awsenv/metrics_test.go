package awsenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/metrics"
)

// TestEMFAfterEachInvocation: what an invocation counts is written as EMF
// when it returns, once.
func TestEMFAfterEachInvocation(t *testing.T) {
	reg := metrics.New(metrics.Sources{}, metrics.KeepDeltas())
	calls := 0
	fn := func(ctx context.Context, n int) (int, error) {
		calls++
		for range n {
			reg.ForgeRequest("github", "GET", 200)
		}
		return n, nil
	}
	var out bytes.Buffer
	h := invocationHandler{next: lambda.NewHandler(fn), metrics: reg, out: &out, log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		payload string
		want    float64 // the EMF line's count; 0: no line
	}{{"3", 3}, {"0", 0}, {"2", 2}} {
		out.Reset()
		if resp, err := h.Invoke(context.Background(), []byte(tc.payload)); err != nil || string(resp) != tc.payload {
			t.Fatalf("Invoke(%s) = %s, %v", tc.payload, resp, err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if tc.want == 0 {
			if out.Len() != 0 {
				t.Errorf("invocation %s wrote %q, want nothing", tc.payload, out.String())
			}
			continue
		}
		var doc map[string]any
		if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &doc) != nil || doc["conveyor_forge_requests_total"] != tc.want || doc["_aws"] == nil {
			t.Errorf("invocation %s wrote %q, want one EMF line counting %v", tc.payload, out.String(), tc.want)
		}
	}
	if calls != 3 {
		t.Errorf("%d calls", calls)
	}
}

// TestSpansExportedBeforeInvocationReturns: with OTEL_EXPORTER_OTLP_ENDPOINT
// set, an invocation's spans reach the collector before it returns, though
// the exporter's batch would wait an hour.
func TestSpansExportedBeforeInvocationReturns(t *testing.T) {
	var mu sync.Mutex
	posts := 0
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			mu.Lock()
			posts++
			mu.Unlock()
		}
	}))
	defer collector.Close()
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000") // the batch's wait, in ms
	defer func() { containerTracer = nil }()
	if err := openTracer(context.Background(), env(map[string]string{VarOTLPEndpoint: collector.URL})); err != nil || containerTracer == nil {
		t.Fatalf("openTracer: %v, tracer %v", err, containerTracer)
	}
	defer containerTracer.Shutdown(context.Background())
	ingress := containerTracer.Ingress(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Conveyor-Trace-Id", "0af7651916cd43dd8448eb211c80319c")
		w.WriteHeader(http.StatusAccepted)
	}))
	fn := func(ctx context.Context, _ json.RawMessage) (string, error) {
		ingress.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/webhooks/github", nil))
		return "ok", nil
	}
	h := invocationHandler{next: lambda.NewHandler(fn), metrics: metrics.New(metrics.Sources{}), tracer: containerTracer,
		out: io.Discard, log: slog.New(slog.DiscardHandler)}
	if _, err := h.Invoke(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if posts != 1 {
		t.Errorf("the collector got %d exports when the invocation returned, want 1", posts)
	}
}
