package retention_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/google/go-cmp/cmp"
)

// ecrImage is an image in a simulated ECR repository.
type ecrImage struct {
	digest string
	tags   []string
	pushed time.Time
	// inIndex: a manifest list references it, and ECR does not expire an
	// image a manifest list references.
	inIndex bool
}

// simulateECR applies p to images at now as ECR documents its lifecycle
// evaluation, and returns the expired digests, sorted: rules run by
// rulePriority, lowest first; an image is expired by at most one rule; an
// image that matches the tagging requirements of a rule cannot be expired
// by a rule of lower priority; tagPrefixList matches when every prefix
// matches one of the image's tags; imageCountMoreThan sorts the selected
// images youngest first and expires those past the count; sinceImagePushed
// expires those pushed more than countNumber days ago.
func simulateECR(t *testing.T, p retention.ECRPolicy, images []ecrImage, now time.Time) []string {
	t.Helper()
	rules := append([]retention.ECRRule(nil), p.Rules...)
	sort.Slice(rules, func(i, j int) bool { return rules[i].RulePriority < rules[j].RulePriority })
	untaggedRules := 0
	for i, r := range rules {
		if i > 0 && rules[i-1].RulePriority == r.RulePriority {
			t.Fatalf("two rules with priority %d", r.RulePriority)
		}
		switch r.Selection.TagStatus {
		case "tagged":
			if len(r.Selection.TagPrefixList) == 0 {
				t.Fatalf("rule %d: tagged without a tagPrefixList", r.RulePriority)
			}
		case "untagged":
			untaggedRules++
		case "any":
			if i != len(rules)-1 {
				t.Fatalf("rule %d: tagStatus any must have the highest priority", r.RulePriority)
			}
		default:
			t.Fatalf("rule %d: tagStatus %q", r.RulePriority, r.Selection.TagStatus)
		}
	}
	if untaggedRules > 1 {
		t.Fatal("more than one rule selects untagged images")
	}
	claimed, expired := map[string]bool{}, map[string]bool{}
	for _, r := range rules {
		var matched []ecrImage
		for _, img := range images {
			if matchesTagging(r.Selection, img) {
				matched = append(matched, img)
			}
		}
		sort.SliceStable(matched, func(i, j int) bool { return matched[i].pushed.After(matched[j].pushed) })
		var selected []ecrImage
		switch r.Selection.CountType {
		case "imageCountMoreThan":
			if len(matched) > r.Selection.CountNumber {
				selected = matched[r.Selection.CountNumber:]
			}
		case "sinceImagePushed":
			if r.Selection.CountUnit != "days" {
				t.Fatalf("rule %d: countUnit %q", r.RulePriority, r.Selection.CountUnit)
			}
			cutoff := now.AddDate(0, 0, -r.Selection.CountNumber)
			for _, img := range matched {
				if img.pushed.Before(cutoff) {
					selected = append(selected, img)
				}
			}
		default:
			t.Fatalf("rule %d: countType %q", r.RulePriority, r.Selection.CountType)
		}
		for _, img := range selected {
			if !claimed[img.digest] && !img.inIndex {
				expired[img.digest] = true
			}
		}
		for _, img := range matched {
			claimed[img.digest] = true
		}
	}
	out := make([]string, 0, len(expired))
	for d := range expired {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func matchesTagging(s retention.ECRSelection, img ecrImage) bool {
	switch s.TagStatus {
	case "untagged":
		return len(img.tags) == 0
	case "any":
		return true
	}
	if len(img.tags) == 0 {
		return false
	}
	for _, prefix := range s.TagPrefixList {
		found := false
		for _, tag := range img.tags {
			found = found || strings.HasPrefix(tag, prefix)
		}
		if !found {
			return false
		}
	}
	return true
}

// releasedRepo is an image repository after releases to three
// environments: each environment's current digest and its rollback
// targets carry release tags (as Protect writes them) besides their sha-
// tag, and are older than any expiry; around them, an old unreleased
// build, a build still in flight, an attestation and an index child.
func releasedRepo(now time.Time) []ecrImage {
	days := func(n int) time.Time { return now.AddDate(0, 0, -n) }
	return []ecrImage{
		{digest: "prod", tags: []string{"sha-aaaaaaaaaaaa", retention.Tag("prod", 0)}, pushed: days(400)},
		{digest: "prod-1", tags: []string{"sha-bbbbbbbbbbbb", retention.Tag("prod", 1), retention.Tag("staging", 1)}, pushed: days(450)},
		{digest: "prod-2", tags: []string{"sha-cccccccccccc", retention.Tag("prod", 2)}, pushed: days(900)},
		{digest: "staging", tags: []string{"sha-dddddddddddd", retention.Tag("staging", 0), retention.Tag("dev", 1)}, pushed: days(60)},
		{digest: "dev", tags: []string{"sha-eeeeeeeeeeee", retention.Tag("dev", 0)}, pushed: days(45)},
		{digest: "old-build", tags: []string{"sha-ffffffffffff"}, pushed: days(100)},
		{digest: "in-flight", tags: []string{"sha-000000000000"}, pushed: days(2)},
		// The referrers-tag fallback index of prod's attachments.
		{digest: "prod-attachments", tags: []string{"sha256-" + strings.Repeat("a", 64)}, pushed: days(400)},
		// prod's provenance, pushed through the referrers API: untagged.
		{digest: "prod-provenance", pushed: days(400)},
		{digest: "platform-child", pushed: days(400), inIndex: true},
	}
}

func TestECRLifecyclePolicyKeepsReleases(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		opts retention.ECROptions
		want []string
	}{
		{"defaults", retention.ECROptions{}, []string{"old-build"}},
		{"builds kept a year", retention.ECROptions{BuildDays: 365}, []string{}},
		{"builds kept a day", retention.ECROptions{BuildDays: 1}, []string{"in-flight", "old-build"}},
		// Asking for untagged expiry costs the attestations of what runs.
		{"untagged after a week", retention.ECROptions{UntaggedDays: 7}, []string{"old-build", "prod-provenance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := retention.ECRLifecyclePolicy(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := simulateECR(t, p, releasedRepo(now), now)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("expired (-want +got):\n%s", d)
			}
			for _, img := range releasedRepo(now) {
				for _, tag := range img.tags {
					if strings.HasPrefix(tag, retention.TagPrefix) && slices.Contains(got, img.digest) {
						t.Errorf("expired %s, tagged %s", img.digest, tag)
					}
				}
			}
		})
	}
}

// TestECRSimulatorSeesTheTrap: the simulator is only worth trusting if it
// expires released images under the policies that would: a sha- rule with
// no release-* rule before it, or with one after it.
func TestECRSimulatorSeesTheTrap(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p, err := retention.ECRLifecyclePolicy(retention.ECROptions{})
	if err != nil {
		t.Fatal(err)
	}
	claim, builds := p.Rules[0], p.Rules[1]
	swapped := builds
	swapped.RulePriority, claim.RulePriority = 1, 2
	tests := []struct {
		name  string
		rules []retention.ECRRule
	}{
		{"no release rule", []retention.ECRRule{builds}},
		{"release rule after the build rule", []retention.ECRRule{swapped, claim}},
	}
	want := []string{"dev", "old-build", "prod", "prod-1", "prod-2", "staging"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := simulateECR(t, retention.ECRPolicy{Rules: tt.rules}, releasedRepo(now), now)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("expired (-want +got):\n%s", d)
			}
		})
	}
}

// TestECRLifecyclePolicyJSON pins the field names ECR reads.
func TestECRLifecyclePolicyJSON(t *testing.T) {
	p, err := retention.ECRLifecyclePolicy(retention.ECROptions{BuildDays: 14, UntaggedDays: 3})
	if err != nil {
		t.Fatal(err)
	}
	data, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal([]byte(`{"rules": [
		{"rulePriority": 1, "description": "Conveyor: keep what environments run or may roll back to (release-*)",
		 "selection": {"tagStatus": "tagged", "tagPrefixList": ["release-"], "countType": "imageCountMoreThan", "countNumber": 9999},
		 "action": {"type": "expire"}},
		{"rulePriority": 2, "description": "Conveyor: expire builds no release tag protects after 14 days",
		 "selection": {"tagStatus": "tagged", "tagPrefixList": ["sha-"], "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
		 "action": {"type": "expire"}},
		{"rulePriority": 3, "description": "Conveyor: expire untagged images after 3 days",
		 "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 3},
		 "action": {"type": "expire"}}]}`), &want); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("policy JSON (-want +got):\n%s", d)
	}
}

func TestECRLifecyclePolicyRefusesNegativeDays(t *testing.T) {
	for _, o := range []retention.ECROptions{{BuildDays: -1}, {UntaggedDays: -2}} {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			if _, err := retention.ECRLifecyclePolicy(o); err == nil || !strings.Contains(err.Error(), "positive") {
				t.Errorf("ECRLifecyclePolicy(%+v) error %v, want one about positive days", o, err)
			}
		})
	}
}
