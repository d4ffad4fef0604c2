package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestPRShowSaysWhyItWaits: an open promotion into a manual environment
// says, in the board's words, how many of the approvals it needs it has,
// from whom, on which head; an approval from someone not listed does not
// count; once the policy holds it no longer waits.
func TestPRShowSaysWhyItWaits(t *testing.T) {
	s := newPromoteSetup(t, func(files map[string]string) {
		files["conveyor.yaml"] = strings.Replace(files["conveyor.yaml"], "reviewers: [alice]", "reviewers: [alice, bob]\n        approvals: 2", 1)
	})
	if out, err := s.promote("web", "prod", s.image+"@"+s.built); err != nil || !strings.Contains(out, "opened #1") {
		t.Fatalf("promote = %q, %v", out, err)
	}
	data := []string{"--data-dir", s.dataDir, "--gitops", s.gitops}
	code, out, errOut := runCLI(t, append([]string{"pr", "show", "1", "-o", "json"}, data...)...)
	var pr struct{ HeadSha, Waiting string }
	if err := json.Unmarshal([]byte(out), &pr); code != 0 || err != nil || len(pr.HeadSha) < 7 {
		t.Fatalf("pr show -o json: exit %d, %v: %s%s", code, err, out, errOut)
	}
	head := pr.HeadSha[:7]
	for _, tc := range []struct {
		approver string // "" approves nobody
		want     string // the waiting line, "" for none
	}{
		{"", "waiting: 0 of 2 approvals from [alice, bob] on " + head},
		{"mallory", "waiting: 0 of 2 approvals from [alice, bob] on " + head},
		{"alice", "waiting: 1 of 2 approvals from [alice, bob] on " + head + " (so far: alice)"},
		{"bob", ""},
	} {
		t.Run(fmt.Sprintf("after %q", tc.approver), func(t *testing.T) {
			if tc.approver != "" {
				if code, _, errOut := runCLI(t, append([]string{"pr", "approve", "1", "--as", tc.approver}, data...)...); code != 0 {
					t.Fatalf("pr approve --as %s: exit %d: %s", tc.approver, code, errOut)
				}
			}
			code, out, errOut := runCLI(t, append([]string{"pr", "show", "1"}, data...)...)
			if code != 0 {
				t.Fatalf("pr show: exit %d: %s", code, errOut)
			}
			var got string
			for line := range strings.Lines(out) {
				if strings.HasPrefix(line, "waiting:") {
					got = strings.TrimSpace(line)
				}
			}
			if got != tc.want {
				t.Errorf("waiting line %q, want %q; pr show:\n%s", got, tc.want, out)
			}
		})
	}
}
