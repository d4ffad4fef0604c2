package emulator_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/conveyor-gitops/conveyor/test/emulator"
)

func TestStartAnswers(t *testing.T) {
	ctx := context.Background()
	q := emulator.StartSQS(t)
	if _, err := q.SQS().ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatalf("fauxqs: %v", err)
	}
	d := emulator.StartDynamo(t)
	if _, err := d.DynamoDB().ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite: %v", err)
	}
	if !strings.HasPrefix(q.Endpoint, "http://127.0.0.1:") || !strings.HasPrefix(d.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("endpoints %s, %s: want loopback", q.Endpoint, d.Endpoint)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as testing.T's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingEmulatorFails(t *testing.T) {
	t.Setenv("CONVEYOR_TOOLS", t.TempDir())
	for name, start := range map[string]func(testing.TB) *emulator.Server{"sqs": emulator.StartSQS, "dynamo": emulator.StartDynamo} {
		rec := &fatalRecorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); start(rec) }()
		<-done
		if !strings.Contains(rec.msg, "run `make tools` (test/tools/emulators.sh)") {
			t.Errorf("%s without the emulator installed: Fatalf(%q), want the install hint", name, rec.msg)
		}
	}
}
