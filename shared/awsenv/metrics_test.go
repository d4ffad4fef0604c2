package awsenv

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
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
	h := emfHandler{next: lambda.NewHandler(fn), metrics: reg, out: &out, log: slog.New(slog.DiscardHandler)}
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
