package test

import (
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// meter counts what the Lambda stack's functions spend of the services AWS
// and GitHub bill or limit: each function's invocations and their time,
// every request they send to SQS and DynamoDB (by API action), and every
// GitHub REST and git request. It counts at the boundary the functions
// talk through (the AWS endpoint proxy, the runtime emulator, the GitHub
// server), so nothing a function sends is missed. The event source
// mappings' own polling is not here: on AWS it is a steady rate per queue,
// whatever the load (see the README's cost section).
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

// prefixed sums the calls whose key starts with prefix and, when any of
// contains is given, also holds one of them.
func (u usage) prefixed(prefix string, contains ...string) int {
	n := 0
	for k, v := range u.Calls {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if len(contains) == 0 {
			n += v
			continue
		}
		for _, c := range contains {
			if strings.Contains(k, c) {
				n += v
				break
			}
		}
	}
	return n
}
