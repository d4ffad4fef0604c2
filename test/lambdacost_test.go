package test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// lambdaMemoryMB is each function's MemorySize in infra/template.yaml.
var lambdaMemoryMB = map[string]float64{"webhook": 256, "build": 3008, "registry": 512, "promote": 1024,
	"approval": 512, "reconcile": 512, "replay": 256, "board": 512}

// TestLambdaCostModel carries changes from push to prod through the Lambda
// stack (dev and staging released automatically, prod by approval) and
// meters what the second, warm change spends: Lambda invocations and
// GB-seconds at the template's memory sizes, SQS and DynamoDB requests by
// action, and Conveyor's GitHub requests. It logs the per-change counts
// and their extrapolation to a day of 1,000 changes, the figures the
// README's "What it costs on AWS" quotes.
func TestLambdaCostModel(t *testing.T) {
	s := startLambdaStack(t, lambdaPipeline(""))
	var per []usage
	for i := 1; i <= 2; i++ {
		before := stackMeter.snapshot()
		files := demo.AppFiles()
		files["VERSION"] = fmt.Sprintf("%d\n", i)
		sha := s.push(files, fmt.Sprintf("web v%d", i))
		pr := s.waitOpenPull(promote.Branch("web", "prod"), 90*time.Second)
		digest := s.built(sha)
		s.waitFor("prod's proposal", 30*time.Second, func() bool {
			r, ok := s.releaseIn("prod", state.Proposed)
			return ok && r.Digest == digest
		})
		s.approve(pr.Number)
		s.waitFor("prod to run the change", 30*time.Second, func() bool { return s.deployed("prod") == digest })
		s.settle()
		per = append(per, stackMeter.snapshot().since(before))
	}
	s.logsClean()
	warm := per[1]
	if warm.prefixed("lambda:promote") < 3 || warm.prefixed("github:api:") == 0 || warm.prefixed("aws:AmazonSQS.") == 0 {
		t.Fatalf("the meter missed the change: %v", warm.Calls)
	}
	const changes = 1000
	var b strings.Builder
	fmt.Fprintf(&b, "one change, push to prod (3 environments), warm:\n")
	var gbs float64
	fns := make([]string, 0, len(warm.Busy))
	for fn := range warm.Busy {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		d := warm.Busy[fn]
		g := d.Seconds() * lambdaMemoryMB[fn] / 1024
		gbs += g
		fmt.Fprintf(&b, "  lambda %-9s %2d invocations %8v %7.3f GB-s\n", fn, warm.Calls["lambda:"+fn], d.Round(time.Millisecond), g)
	}
	keys := make([]string, 0, len(warm.Calls))
	for k := range warm.Calls {
		if !strings.HasPrefix(k, "lambda:") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-40s %3d\n", k, warm.Calls[k])
	}
	sqs := warm.prefixed("aws:AmazonSQS.")
	reads := warm.prefixed("aws:DynamoDB_", ".GetItem", ".Query", ".Scan", ".BatchGetItem")
	writes := warm.prefixed("aws:DynamoDB_", ".PutItem", ".UpdateItem", ".DeleteItem", ".BatchWriteItem", ".TransactWriteItems")
	api := warm.prefixed("github:api:")
	fmt.Fprintf(&b, "a day of %d changes: %.0f GB-s, %d Lambda requests, %d SQS requests (functions only), %d DynamoDB reads, %d writes, %d GitHub REST calls (%.0f/h at 8 busy hours)",
		changes, gbs*changes, warm.prefixed("lambda:")*changes, sqs*changes, reads*changes, writes*changes, api*changes, float64(api*changes)/8)
	t.Log(b.String())
}
