package tracing_test

import (
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/tracing"
)

func TestTraceID(t *testing.T) {
	id := event.NewID()
	if got := tracing.TraceID(id).String(); got != id {
		t.Errorf("TraceID(%s) = %s: Conveyor's ids must be the OpenTelemetry ids themselves", id, got)
	}
	// Ids from elsewhere (a delivery id) still map to one stable, valid id.
	a, b := tracing.TraceID("github-delivery-1"), tracing.TraceID("github-delivery-1")
	if a != b || !a.IsValid() || a == tracing.TraceID("github-delivery-2") {
		t.Errorf("TraceID of a foreign id: %s, %s", a, b)
	}
}
