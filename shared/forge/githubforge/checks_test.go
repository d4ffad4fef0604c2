package githubforge_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChecksPassed(t *testing.T) {
	const (
		statusPath = "/repos/o/r/commits/" + headSHA + "/status"
		checksPath = "/repos/o/r/commits/" + headSHA + "/check-runs"
	)
	status := call{Method: "GET", Path: statusPath, Query: "per_page=100"}
	checks := call{Method: "GET", Path: checksPath, Query: "filter=latest&per_page=100"}
	tests := []struct {
		name      string
		status    string
		checks    string
		want      bool
		wantCalls []call
	}{
		{name: "all green", status: "combined-status-success.json", checks: "check-runs-success.json", want: true, wantCalls: []call{status, checks}},
		{name: "status pending", status: "combined-status-pending.json", checks: "check-runs-success.json", want: false, wantCalls: []call{status}},
		{name: "check in progress", status: "combined-status-success.json", checks: "check-runs-in-progress.json", want: false, wantCalls: []call{status, checks}},
		{name: "check failed", status: "combined-status-success.json", checks: "check-runs-failure.json", want: false, wantCalls: []call{status, checks}},
		{name: "no statuses, checks green", status: "combined-status-none.json", checks: "check-runs-success.json", want: true, wantCalls: []call{status, checks}},
		{name: "statuses green, no checks", status: "combined-status-success.json", checks: "check-runs-none.json", want: true, wantCalls: []call{status, checks}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, gh := newForge(t, map[string][]reply{
				"GET " + statusPath: {{Body: "@" + tt.status}},
				"GET " + checksPath: {{Body: "@" + tt.checks}},
			})
			got, err := f.ChecksPassed(context.Background(), headSHA)
			if err != nil {
				t.Fatalf("ChecksPassed: %v", err)
			}
			if got != tt.want {
				t.Errorf("ChecksPassed = %v, want %v", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantCalls, gh.Calls()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}
