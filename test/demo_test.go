package test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// TestDemoIngressOnly runs the demo with no consumers: the signed push must
// wait in the builds queue, once, and the tampered one must be refused.
func TestDemoIngressOnly(t *testing.T) {
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), &out, demo.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if got := res.Stats[queue.Builds].Visible; got != 1 {
		t.Errorf("builds queue holds %d, want the one push", got)
	}
	for _, want := range []string{"→ 401 Unauthorized", "→ 202 Accepted", "→ 200 OK: duplicate", res.TraceID, res.Commit[:12]} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
