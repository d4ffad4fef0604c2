package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/google/go-cmp/cmp"
)

// TestLifecyclePolicy: the command prints retention's policy for its
// flags, as JSON put-lifecycle-policy takes, and refuses bad days.
func TestLifecyclePolicy(t *testing.T) {
	tests := []struct {
		args []string
		want retention.ECROptions
		code int
	}{
		{nil, retention.ECROptions{BuildDays: retention.DefaultBuildDays}, 0},
		{[]string{"--build-days", "7", "--untagged-days", "2"}, retention.ECROptions{BuildDays: 7, UntaggedDays: 2}, 0},
		{[]string{"--build-days", "0"}, retention.ECROptions{}, 2},
		{[]string{"--untagged-days", "-1"}, retention.ECROptions{}, 2},
		{[]string{"acme/web"}, retention.ECROptions{}, 2},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb strings.Builder
			code := run(context.Background(), append([]string{"lifecycle-policy"}, tt.args...), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errb.String())
			}
			if code != 0 {
				return
			}
			var got retention.ECRPolicy
			if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
				t.Fatalf("output is not a policy: %v\n%s", err, out.String())
			}
			want, _ := retention.ECRLifecyclePolicy(tt.want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("policy (-want +got):\n%s", d)
			}
		})
	}
}
