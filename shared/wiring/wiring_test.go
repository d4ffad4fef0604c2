package wiring_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestFunctionsNameTheirHandlers keeps the layout rule a newcomer can
// guess: every functions/<name> runs the handler in shared/<name>.
func TestFunctionsNameTheirHandlers(t *testing.T) {
	dirs, err := os.ReadDir("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		main, err := os.ReadFile(filepath.Join("../../functions", d.Name(), "main.go"))
		if err != nil {
			t.Errorf("functions/%s: %v", d.Name(), err)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", d.Name())); err != nil {
			t.Errorf("functions/%s has no handler package shared/%s", d.Name(), d.Name())
		}
		if _, ok := wiring.Lookup(d.Name()); ok {
			continue // a consumer: built from the table, whose constructor uses shared/<name>
		}
		// Not a consumer: main.go builds the handler, or awsenv does for it.
		imp := `"github.com/conveyor-gitops/conveyor/shared/` + d.Name() + `"`
		uses := strings.Contains(string(main), imp)
		if glue, err := os.ReadFile(filepath.Join("../awsenv", d.Name()+".go")); err == nil && strings.Contains(string(glue), imp) {
			uses = true
		}
		if !uses {
			t.Errorf("functions/%s/main.go (or shared/awsenv/%s.go) does not use shared/%s", d.Name(), d.Name(), d.Name())
		}
	}
	for _, f := range wiring.Functions {
		if _, err := os.Stat(filepath.Join("../../functions", f.Name, "main.go")); err != nil {
			t.Errorf("table function %s has no functions/%s/main.go", f.Name, f.Name)
		}
	}
}
