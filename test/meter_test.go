package test

import (
	"encoding/json"
	"maps"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// meter counts what the Lambda stack's functions spend of the services AWS
// and GitHub bill or limit: each function's invocations and their time,
// every request they send to SQS and DynamoDB (by API action), and every
// GitHub REST and git request. It counts at the boundary the functions
// talk through (the AWS endpoint proxy, the runtime emulator, the GitHub
// server), so nothing a function sends is missed: the cost model reads the
// functions' own counters (emitted) and checks them against it. The event
// source mappings' own polling is not here: on AWS it is a steady rate per
// queue, whatever the load (see the README's cost section).
type meter struct {
	mu    sync.Mutex
	calls map[string]int
	busy  map[string]time.Duration
}

// usage is a copy of a meter's counts.
type usage struct {
	Calls map[string]int
	Busy  map[string]time.Duration
}

// stackMeter is the meter every Lambda stack in this package reports to.
var stackMeter = &meter{calls: map[string]int{}, busy: map[string]time.Duration{}}

func (m *meter) count(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[key]++
}

// invoked records one invocation of the function whose bootstrap is at
// path, lasting d.
func (m *meter) invoked(path string, d time.Duration) {
	fn := filepath.Base(path)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["lambda:"+fn]++
	m.busy[fn] += d
}

// awsRequest counts a request to the AWS endpoint by its API action
// (X-Amz-Target: "AmazonSQS.SendMessage", "DynamoDB_20120810.PutItem").
func (m *meter) awsRequest(r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if target == "" {
		target = "unknown"
	}
	m.count("aws:" + target)
}

// githubRequest counts a REST call by method, or a git request, sent by
// Conveyor: the test's own requests (its git CLI pushes, a reviewer's
// approval through Go's default client) are left out.
func (m *meter) githubRequest(r *http.Request) {
	if ua := r.UserAgent(); strings.HasPrefix(ua, "git/") || strings.HasPrefix(ua, "Go-http-client") {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api-v3/") {
		m.count("github:api:" + r.Method)
		return
	}
	m.count("github:git")
}

func (m *meter) snapshot() usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return usage{Calls: maps.Clone(m.calls), Busy: maps.Clone(m.busy)}
}

// since is what was counted between then and u.
func (u usage) since(then usage) usage {
	d := usage{Calls: map[string]int{}, Busy: map[string]time.Duration{}}
	for k, v := range u.Calls {
		if v -= then.Calls[k]; v != 0 {
			d.Calls[k] = v
		}
	}
	for k, v := range u.Busy {
		if v -= then.Busy[k]; v != 0 {
			d.Busy[k] = v
		}
	}
	return d
}

// awsOperations is the metered AWS requests as "SQS.SendMessage",
// "DynamoDB.PutItem": the SDK's service id and the operation.
func (u usage) awsOperations() map[string]int {
	out := map[string]int{}
	for k, v := range u.Calls {
		target, ok := strings.CutPrefix(k, "aws:")
		if !ok {
			continue
		}
		service, op, _ := strings.Cut(target, ".")
		switch {
		case service == "AmazonSQS":
			service = "SQS"
		case strings.HasPrefix(service, "DynamoDB_"):
			service = "DynamoDB"
		}
		out[service+"."+op] += v
	}
	return out
}

// githubMethods is the metered GitHub REST calls by method.
func (u usage) githubMethods() map[string]int {
	out := map[string]int{}
	for k, v := range u.Calls {
		if m, ok := strings.CutPrefix(k, "github:api:"); ok {
			out[m] += v
		}
	}
	return out
}

// emitted is what functions said about their invocations in their own
// output: the runtime's REPORT line of each invocation (what Lambda bills)
// and the EMF documents Conveyor writes at the end of each.
type emitted struct {
	// Invocations, BilledMS and InitMS are by function, from REPORT lines:
	// the invocations, their "Billed Duration" and their "Init Duration"
	// (a cold start's; Lambda bills it too on a provided runtime, but the
	// emulator leaves it out of Billed Duration).
	Invocations map[string]int
	BilledMS    map[string]float64
	InitMS      map[string]float64
	// HandledS is each consumer's conveyor_handler_duration_seconds: the
	// time its messages took, within its billed time.
	HandledS map[string]float64
	// Counters are the EMF counters' increases (a histogram's: the sum of
	// its observations), by series: "name{label=value,…}" in label order.
	Counters map[string]float64
}

// reportLine is the runtime emulator's REPORT line, as Lambda writes it.
var reportLine = regexp.MustCompile(`^REPORT RequestId: \S+\t(?:Init Duration: ([0-9.]+) ms\t)?Duration: [0-9.]+ ms\tBilled Duration: ([0-9]+) ms`)

// readEmitted reads function fn's output.
func readEmitted(fn, out string) emitted {
	e := emitted{}
	for _, l := range strings.Split(out, "\n") {
		if m := reportLine.FindStringSubmatch(l); m != nil {
			e.add(&e.Invocations, fn, 1)
			billed, _ := strconv.ParseFloat(m[2], 64)
			init, _ := strconv.ParseFloat(m[1], 64)
			e.addF(&e.BilledMS, fn, billed)
			e.addF(&e.InitMS, fn, init)
			continue
		}
		e.readEMF(l)
	}
	return e
}

// readEMF adds one EMF document's metrics, when l is one.
func (e *emitted) readEMF(l string) {
	var doc map[string]any
	if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &doc) != nil {
		return
	}
	var meta struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	raw, _ := json.Marshal(doc["_aws"])
	if json.Unmarshal(raw, &meta) != nil {
		return
	}
	for _, cw := range meta.CloudWatchMetrics {
		if cw.Namespace != "Conveyor" || len(cw.Dimensions) == 0 {
			continue
		}
		// The first dimension set is every label; the others are totals.
		labels := slices.Clone(cw.Dimensions[0])
		slices.Sort(labels)
		var dims []string
		for _, k := range labels {
			dims = append(dims, k+"="+fmtAny(doc[k]))
		}
		for _, m := range cw.Metrics {
			v := 0.0
			switch x := doc[m.Name].(type) {
			case float64:
				v = x
			case []any:
				for _, o := range x {
					f, _ := o.(float64)
					v += f
				}
			}
			key := m.Name + "{" + strings.Join(dims, ",") + "}"
			e.addF(&e.Counters, key, v)
			if m.Name == "conveyor_handler_duration_seconds" {
				if fn, ok := doc["function"].(string); ok {
					e.addF(&e.HandledS, fn, v)
				}
			}
		}
	}
}

func fmtAny(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (e *emitted) add(m *map[string]int, k string, v int) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k] += v
}

func (e *emitted) addF(m *map[string]float64, k string, v float64) {
	if *m == nil {
		*m = map[string]float64{}
	}
	(*m)[k] += v
}

// plus is e and o added up.
func (e emitted) plus(o emitted) emitted {
	var s emitted
	for _, x := range []emitted{e, o} {
		for k, v := range x.Invocations {
			s.add(&s.Invocations, k, v)
		}
		for k, v := range x.BilledMS {
			s.addF(&s.BilledMS, k, v)
		}
		for k, v := range x.InitMS {
			s.addF(&s.InitMS, k, v)
		}
		for k, v := range x.HandledS {
			s.addF(&s.HandledS, k, v)
		}
		for k, v := range x.Counters {
			s.addF(&s.Counters, k, v)
		}
	}
	return s
}

// per is e divided over n changes (invocations rounded to the nearest).
func (e emitted) per(n int) emitted {
	var s emitted
	f := float64(n)
	for k, v := range e.Invocations {
		s.add(&s.Invocations, k, int(float64(v)/f+0.5))
	}
	for k, v := range e.BilledMS {
		s.addF(&s.BilledMS, k, v/f)
	}
	for k, v := range e.InitMS {
		s.addF(&s.InitMS, k, v/f)
	}
	for k, v := range e.HandledS {
		s.addF(&s.HandledS, k, v/f)
	}
	for k, v := range e.Counters {
		s.addF(&s.Counters, k, v/f)
	}
	return s
}

// sum adds the series of metric whose labels hold each given label=value
// pair (kv: label, value, label, value…).
func (e emitted) sum(metric string, kv ...string) float64 {
	n := 0.0
	for k, v := range e.Counters {
		name, rest, _ := strings.Cut(k, "{")
		if name != metric {
			continue
		}
		labels := strings.Split(strings.TrimSuffix(rest, "}"), ",")
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			ok = ok && slices.Contains(labels, kv[i]+"="+kv[i+1])
		}
		if ok {
			n += v
		}
	}
	return n
}

// seriesLabel is the value of label in a "name{label=value,…}" series key.
func seriesLabel(key, label string) string {
	_, rest, _ := strings.Cut(key, "{")
	for _, l := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		if v, ok := strings.CutPrefix(l, label+"="); ok {
			return v
		}
	}
	return ""
}

// awsOperations is the functions' AWS requests as "SQS.SendMessage", as
// usage.awsOperations has them.
func (e emitted) awsOperations() map[string]int {
	out := map[string]int{}
	for k, v := range e.Counters {
		if strings.HasPrefix(k, "conveyor_aws_requests_total{") {
			out[seriesLabel(k, "service")+"."+seriesLabel(k, "operation")] += int(v)
		}
	}
	return out
}

// githubMethods is the functions' GitHub REST calls by method.
func (e emitted) githubMethods() map[string]int {
	out := map[string]int{}
	for k, v := range e.Counters {
		if strings.HasPrefix(k, "conveyor_forge_requests_total{") && seriesLabel(k, "forge") == "github" {
			out[seriesLabel(k, "method")] += int(v)
		}
	}
	return out
}

func (e emitted) invocations() int {
	n := 0
	for _, v := range e.Invocations {
		n += v
	}
	return n
}

// gbSeconds is the billed GB-seconds at the template's memory sizes.
func (e emitted) gbSeconds() float64 {
	g := 0.0
	for fn, ms := range e.BilledMS {
		g += ms / 1000 * lambdaMemoryMB[fn] / 1024
	}
	return g
}

// dynamoReads and dynamoWrites count DynamoDB requests by kind (one
// request unit each: Conveyor's items are under 1 KB; reads priced as
// strongly consistent).
func (e emitted) dynamoReads() float64 {
	return e.dynamoOps("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")
}

func (e emitted) dynamoWrites() float64 {
	return e.dynamoOps("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
}

func (e emitted) dynamoOps(ops ...string) float64 {
	n := 0.0
	for _, op := range ops {
		n += e.sum("conveyor_aws_requests_total", "service", "DynamoDB", "operation", op)
	}
	return n
}
