package wiring_test

import (
	"errors"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/wiring"
)

func TestTable(t *testing.T) {
	consumed := map[string]string{}
	for _, f := range wiring.Functions {
		t.Run(f.Name, func(t *testing.T) {
			spec, ok := queue.Lookup(f.Queue)
			if !ok {
				t.Fatalf("queue %s is not in the topology", f.Queue)
			}
			if other, dup := consumed[f.Queue]; dup {
				t.Errorf("%s and %s both consume %s", other, f.Name, f.Queue)
			}
			consumed[f.Queue] = f.Name
			if spec.Visibility < 6*f.Timeout {
				t.Errorf("visibility %v < 6 × timeout %v", spec.Visibility, f.Timeout)
			}
			if f.BatchSize < 1 || (spec.FIFO && f.BatchSize > 10) {
				t.Errorf("batch size %d outside 1–%d", f.BatchSize, map[bool]int{true: 10, false: 10000}[spec.FIFO])
			}
			if got, _ := wiring.Lookup(f.Name); got.Queue != f.Queue {
				t.Errorf("Lookup(%q) = %+v", f.Name, got)
			}
			// Empty Deps name what is missing instead of building a handler
			// that fails on its first message.
			if _, err := f.Consumer(wiring.Deps{}); !errors.Is(err, wiring.ErrMissing) {
				t.Errorf("Consumer(Deps{}) = %v, want ErrMissing", err)
			}
		})
	}
	if len(consumed) != len(queue.Topology) {
		t.Errorf("%d of %d topology queues have a consumer", len(consumed), len(queue.Topology))
	}
}
