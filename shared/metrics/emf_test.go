package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/metrics"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/google/go-cmp/cmp"
)

// emfLine is the part of an EMF document the tests read.
type emfLine struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	fields map[string]any
}

func parseEMF(t *testing.T, out string) []emfLine {
	t.Helper()
	var lines []emfLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e emfLine
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, l)
		}
		if err := json.Unmarshal([]byte(l), &e.fields); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, e)
	}
	return lines
}

func TestFlushEMF(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	r := metrics.New(metrics.Sources{}, metrics.KeepDeltas())
	r.ForgeRequest("github", "GET", 200)
	r.ForgeRequest("github", "GET", 204)
	r.ForgeRequest("github", "POST", 503)
	r.BuildFinished("web", "pushed", 2*time.Second, 4096)
	r.Notify(context.Background(), notify.Event{Event: "merged", App: "web", Environment: "prod"})
	for range 150 {
		r.ForgeRateLimited("gitea", time.Minute)
	}
	var out bytes.Buffer
	if err := r.FlushEMF(&out, now); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range parseEMF(t, out.String()) {
		cw := l.AWS.CloudWatchMetrics[0]
		if cw.Namespace != "Conveyor" || l.AWS.Timestamp != now.UnixMilli() {
			t.Errorf("namespace %q, timestamp %d", cw.Namespace, l.AWS.Timestamp)
		}
		dims := cw.Dimensions[0]
		wantSets := [][]string{dims, {}}
		if len(dims) == 0 {
			wantSets = [][]string{{}}
		}
		if diff := cmp.Diff(wantSets, cw.Dimensions); diff != "" {
			t.Errorf("dimension sets (-want +got):\n%s", diff)
		}
		var kv []string
		for _, d := range dims {
			kv = append(kv, d+"="+l.fields[d].(string))
		}
		// The app is a field of the line, never a dimension: one billed
		// metric per app would cost more than Conveyor's functions.
		if slices.Contains(dims, "app") {
			t.Errorf("app is a dimension: %v", dims)
		}
		if app, ok := l.fields["app"]; ok {
			kv = append(kv, "app:"+app.(string))
		}
		for _, m := range cw.Metrics {
			v, _ := json.Marshal(l.fields[m.Name])
			if vs, ok := l.fields[m.Name].([]any); ok && len(vs) > 3 {
				v = []byte("[" + strings.Repeat("x", len(vs)/10) + "]") // 10 values an x
			}
			got = append(got, m.Name+"{"+strings.Join(kv, ",")+"} "+m.Unit+" "+string(v))
		}
	}
	want := []string{
		"conveyor_build_duration_seconds{result=pushed,app:web} Seconds [2]",
		"conveyor_build_pushed_bytes_total{app:web} Bytes 4096",
		"conveyor_forge_ratelimit_wait_seconds{forge=gitea} Seconds [xxxxx]",      // the rest on the next line
		"conveyor_forge_ratelimit_wait_seconds{forge=gitea} Seconds [xxxxxxxxxx]", // at most 100 values a line
		"conveyor_forge_requests_total{forge=github,method=GET,code=2xx} Count 2",
		"conveyor_forge_requests_total{forge=github,method=POST,code=5xx} Count 1",
		"conveyor_promotions_total{environment=prod,result=merged,app:web} Count 1",
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EMF metrics (-want +got):\n%s\n%s", diff, out.String())
	}

	// The next flush writes only what changed since.
	out.Reset()
	if err := r.FlushEMF(&out, now); err != nil || out.Len() != 0 {
		t.Errorf("second flush: %v %q, want nothing", err, out.String())
	}
	r.ForgeRequest("gitlab", "PUT", 0)
	r.FlushEMF(&out, now)
	if ls := parseEMF(t, out.String()); len(ls) != 1 || ls[0].fields["conveyor_forge_requests_total"] != 1.0 || ls[0].fields["code"] != "error" {
		t.Errorf("third flush: %s", out.String())
	}

	// A registry that keeps no deltas writes nothing.
	plain := metrics.New(metrics.Sources{})
	plain.ForgeRequest("github", "GET", 200)
	out.Reset()
	if plain.FlushEMF(&out, now); out.Len() != 0 {
		t.Errorf("without KeepDeltas: %q", out.String())
	}
}
