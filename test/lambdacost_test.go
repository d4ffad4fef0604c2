package test

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-cmp/cmp"
)

// lambdaMemoryMB is each function's MemorySize in infra/template.yaml.
var lambdaMemoryMB = map[string]float64{"webhook": 256, "build": 3008, "registry": 512, "promote": 1024,
	"approval": 512, "notify": 256, "reconcile": 512, "replay": 256, "board": 512}

// TestLambdaCostModel carries changes from push to prod through the Lambda
// stack (dev and staging released automatically, prod by approval) and
// reads what the second, warm change spent from the functions' own output:
// the runtime's REPORT line of each invocation (what Lambda bills) and the
// EMF counters each invocation wrote (AWS requests by operation, forge and
// registry calls, handling time). The meters at the proxies the functions
// talk through must agree with those counters exactly. It logs the per
// change counts and the day of 1,000 changes priced as the README's "What
// it costs on AWS" quotes.
func TestLambdaCostModel(t *testing.T) {
	s := startLambdaStack(t, lambdaPipeline(""))
	s.change(1)
	warm := s.change(2)
	s.logsClean()
	if warm.Invocations["promote"] < 3 || warm.sum("conveyor_forge_requests_total") == 0 ||
		warm.sum("conveyor_aws_requests_total", "service", "SQS") == 0 || warm.sum("conveyor_aws_requests_total", "service", "DynamoDB") == 0 {
		t.Fatalf("the functions' counters missed the change: %v %v", warm.Invocations, warm.Counters)
	}
	// The day must fit GitHub's budget for an installation (5,000 REST
	// calls an hour) even when the changes come in 8 working hours.
	if api := warm.sum("conveyor_forge_requests_total", "forge", "github"); api*costChanges/8 > githubHourlyBudget {
		t.Errorf("%.0f GitHub REST calls a change: %.0f an hour for %d changes in 8 hours, over the installation's %d",
			api, api*costChanges/8, costChanges, githubHourlyBudget)
	}
	t.Log(warm.report(costChanges))
}

// githubHourlyBudget is a GitHub App installation's REST budget an hour
// (at least; it grows with the organisation's repositories and users).
const githubHourlyBudget = 5000

// BenchmarkLambdaCost reports what a day of 1,000 changes across 200 apps
// and 3 environments costs on AWS at public prices, and the calls one
// change makes, from the functions' own counters (see
// TestLambdaCostModel). The first change, cold, is left out.
func BenchmarkLambdaCost(b *testing.B) {
	s := startLambdaStack(b, lambdaPipeline(""))
	s.change(1)
	b.ResetTimer()
	var total emitted
	for i := range b.N {
		total = total.plus(s.change(i + 2))
	}
	b.StopTimer()
	per := total.per(b.N)
	d := per.day(costChanges)
	b.ReportMetric(d.dollars(), "$/day")
	b.ReportMetric(d.dollars()-d.RegistryHookCost, "$/day-ecr")
	b.ReportMetric(float64(per.invocations()), "invocations/change")
	b.ReportMetric(per.gbSeconds(), "GB-s/change")
	b.ReportMetric(per.sum("conveyor_aws_requests_total", "service", "SQS"), "sqs/change")
	b.ReportMetric(per.dynamoReads(), "ddb-reads/change")
	b.ReportMetric(per.dynamoWrites(), "ddb-writes/change")
	b.ReportMetric(per.sum("conveyor_aws_requests_total", "service", "Secrets Manager"), "secrets/change")
	b.ReportMetric(per.sum("conveyor_forge_requests_total", "forge", "github"), "github-api/change")
	b.ReportMetric(per.sum("conveyor_registry_requests_total"), "registry/change")
	b.Log(per.report(costChanges))
}

// costChanges is the modelled day: 1,000 changes (across 200 apps and 3
// environments; the number of apps does not enter a promotion's cost).
const costChanges = 1000

// change carries change i from push to prod and returns what the
// functions said they spent on it, after checking it against the meters.
func (s *lambdaStack) change(i int) emitted {
	s.t.Helper()
	marks := map[string]int{}
	for fn, p := range s.fns {
		marks[fn] = len(p.output())
	}
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
	// GitHub's webhooks arrive on their own time, and a late one starts a
	// chain of invocations after the queues were last seen empty: wait
	// until the stack has been quiet for a second. The emulator's REPORT
	// line follows the function's EMF lines on the same pipe, so once every
	// metered invocation has its REPORT line, all the change's output is in.
	var got emitted
	var metered usage
	s.waitFor("the stack to be quiet, every invocation's REPORT line in", 30*time.Second, func() bool {
		metered = stackMeter.snapshot().since(before)
		if !s.quiet() {
			return false
		}
		got = emitted{}
		for fn, p := range s.fns {
			got = got.plus(readEmitted(fn, p.output()[marks[fn]:]))
		}
		for fn := range s.fns {
			if got.Invocations[fn] != metered.Calls["lambda:"+fn] {
				return false
			}
		}
		time.Sleep(time.Second)
		return s.quiet() && maps.Equal(stackMeter.snapshot().since(before).Calls, metered.Calls)
	})
	s.crossCheck(got, metered)
	return got
}

// quiet reports whether no function runs and every queue is empty.
func (s *lambdaStack) quiet() bool {
	for _, p := range s.fns {
		if !p.mu.TryLock() {
			return false
		}
		p.mu.Unlock()
	}
	for _, u := range s.urls {
		if s.depth(u.Queue) > 0 {
			return false
		}
	}
	return true
}

// crossCheck compares the functions' counters with what the proxies
// metered: the same AWS requests by operation, the same GitHub REST calls
// by method; each function's billed time fits in the time its callers
// waited, and each consumer's handling time in its billed time.
func (s *lambdaStack) crossCheck(got emitted, metered usage) {
	s.t.Helper()
	if diff := cmp.Diff(metered.awsOperations(), got.awsOperations()); diff != "" {
		s.t.Errorf("AWS requests, metered at the endpoint (-) and counted by the functions (+):\n%s", diff)
	}
	if diff := cmp.Diff(metered.githubMethods(), got.githubMethods()); diff != "" {
		s.t.Errorf("GitHub REST calls, metered at GitHub (-) and counted by the functions (+):\n%s", diff)
	}
	// Billed time is the emulator's, within the time the caller waited
	// (each invocation rounded up to the millisecond).
	for fn, ms := range got.BilledMS {
		if waited := metered.Busy[fn].Seconds()*1000 + float64(got.Invocations[fn]); ms > waited {
			s.t.Errorf("%s billed %.0f ms for invocations its callers waited %.0f ms for", fn, ms, waited)
		}
	}
	for fn, handled := range got.HandledS {
		if billed := got.BilledMS[fn] / 1000; handled > billed {
			s.t.Errorf("%s handled messages for %.3fs in %.3fs billed", fn, handled, billed)
		}
	}
}

// costDay is a day of changes, priced.
type costDay struct {
	GBSeconds, LambdaRequests, SQSSent, SQSDeletes, SQSPolls float64
	DynamoRRU, DynamoWRU, Secrets, HTTPAPI                   float64
	// RegistryHooks are the webhook invocations the registry's
	// notifications caused (the test's distribution registry notifies
	// every push and pull); with ECR, EventBridge puts pushes on the images
	// queue instead, and RegistryHookCost is what that saves.
	RegistryHooks, RegistryHookCost float64
}

// Public us-east-1 prices.
const (
	priceGBSecondARM = 0.0000133334 // Lambda arm64, per GB-s
	priceLambdaReq   = 0.20 / 1e6
	priceSQSReq      = 0.40 / 1e6 // standard; FIFO is $0.50
	priceDynamoWRU   = 0.625 / 1e6
	priceDynamoRRU   = 0.125 / 1e6
	priceSecretsCall = 0.05 / 1e4
	priceHTTPAPIReq  = 1.00 / 1e6
)

// Modelled, not counted: each event source mapping long-polls its queue
// with 5 receivers of 20 s each whatever the load (5 × 3 a minute, 21,600
// a day), and Secrets Manager is read at most once per secret per warm
// container per CONVEYOR_SECRETS_TTL (15 min: 6 functions × 2 secrets ×
// 96 a day) when secrets are given by ARN.
const (
	esmPollsPerQueueDay = 5 * 3 * 60 * 24
	secretsCallsDayMax  = 6 * 2 * 96
	dynamoIndexes       = 1 // each write also writes the table's one GSI
)

// day scales one change's counts to changes a day and adds what is
// modelled.
func (e emitted) day(changes int) costDay {
	n := float64(changes)
	consumers := 0
	for fn, c := range e.Invocations {
		if _, ok := stackConsumers[fn]; ok {
			consumers += c
		}
	}
	// The webhook function counts what it received by source.
	hooks := e.sum("conveyor_events_received_total", "source", "distribution")
	hookGBs := 0.0
	if n := e.Invocations["webhook"]; n > 0 {
		hookGBs = e.BilledMS["webhook"] / 1000 * lambdaMemoryMB["webhook"] / 1024 / float64(n)
	}
	secrets := max(e.sum("conveyor_aws_requests_total", "service", "Secrets Manager")*n, secretsCallsDayMax)
	return costDay{
		GBSeconds: e.gbSeconds() * n, LambdaRequests: float64(e.invocations()) * n,
		SQSSent: e.sum("conveyor_aws_requests_total", "service", "SQS") * n,
		// The mapping deletes each handled batch: one request an invocation.
		SQSDeletes: float64(consumers) * n,
		SQSPolls:   float64(esmPollsPerQueueDay * len(stackConsumers)),
		DynamoRRU:  e.dynamoReads() * n, DynamoWRU: e.dynamoWrites() * n * (1 + dynamoIndexes),
		Secrets: secrets, HTTPAPI: float64(e.Invocations["webhook"]) * n,
		RegistryHooks: hooks * n, RegistryHookCost: hooks * n * (priceHTTPAPIReq + priceLambdaReq + hookGBs*priceGBSecondARM),
	}
}

// stackConsumers are the functions an event source mapping feeds.
var stackConsumers = map[string]struct{}{"build": {}, "registry": {}, "promote": {}, "approval": {}, "notify": {}}

func (d costDay) lines() [][2]string {
	f := func(format string, a ...any) string { return fmt.Sprintf(format, a...) }
	return [][2]string{
		{f("Lambda compute, %.0f GB-s", d.GBSeconds), f("$%.3f", d.GBSeconds*priceGBSecondARM)},
		{f("Lambda requests, %.0f", d.LambdaRequests), f("$%.3f", d.LambdaRequests*priceLambdaReq)},
		{f("SQS, %.0f sent + %.0f deletes + %.0f polls", d.SQSSent, d.SQSDeletes, d.SQSPolls),
			f("$%.3f", (d.SQSSent+d.SQSDeletes+d.SQSPolls)*priceSQSReq)},
		{f("DynamoDB, %.0f WRU, %.0f RRU", d.DynamoWRU, d.DynamoRRU), f("$%.3f", d.DynamoWRU*priceDynamoWRU+d.DynamoRRU*priceDynamoRRU)},
		{f("HTTP API, %.0f", d.HTTPAPI), f("$%.3f", d.HTTPAPI*priceHTTPAPIReq)},
		{f("Secrets Manager, ≤ %.0f calls", d.Secrets), f("$%.3f", d.Secrets*priceSecretsCall)},
	}
}

func (d costDay) dollars() float64 {
	return d.GBSeconds*priceGBSecondARM + d.LambdaRequests*priceLambdaReq +
		(d.SQSSent+d.SQSDeletes+d.SQSPolls)*priceSQSReq + d.DynamoWRU*priceDynamoWRU + d.DynamoRRU*priceDynamoRRU +
		d.HTTPAPI*priceHTTPAPIReq + d.Secrets*priceSecretsCall
}

// report is the per change counts and the priced day, as the README
// shows them.
func (e emitted) report(changes int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "one change, push to prod (3 environments), from the functions' REPORT lines and EMF counters:\n")
	fns := make([]string, 0, len(e.Invocations))
	for fn := range e.Invocations {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		fmt.Fprintf(&b, "  lambda %-9s %3d invocations %8.0f ms billed %7.3f GB-s (handling %6.0f ms)\n", fn, e.Invocations[fn],
			e.BilledMS[fn], e.BilledMS[fn]/1000*lambdaMemoryMB[fn]/1024, e.HandledS[fn]*1000)
	}
	keys := make([]string, 0, len(e.Counters))
	for k := range e.Counters {
		if strings.HasPrefix(k, "conveyor_aws_requests_total") || strings.HasPrefix(k, "conveyor_forge_requests_total") ||
			strings.HasPrefix(k, "conveyor_registry_requests_total") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-90s %4.0f\n", k, e.Counters[k])
	}
	d := e.day(changes)
	fmt.Fprintf(&b, "a day of %d changes:\n", changes)
	for _, l := range d.lines() {
		fmt.Fprintf(&b, "  %-70s %s\n", l[0], l[1])
	}
	api := e.sum("conveyor_forge_requests_total", "forge", "github") * float64(changes)
	fmt.Fprintf(&b, "  with ECR instead of registry webhooks: %.0f fewer webhook invocations, -$%.3f\n", d.RegistryHooks, d.RegistryHookCost)
	fmt.Fprintf(&b, "  total $%.2f a day, $%.0f a month ($%.2f a day with ECR); GitHub REST %.0f a day (%.0f/h over 24 h, %.0f/h in 8 busy hours)",
		d.dollars(), d.dollars()*30, d.dollars()-d.RegistryHookCost, api, api/24, api/8)
	return b.String()
}
