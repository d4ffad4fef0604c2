package retention

import (
	"encoding/json"
	"fmt"
)

// ECR lifecycle policies cannot say "keep". What they document instead:
// rules are applied by rulePriority, lowest first; an image is expired by
// at most one rule; and an image that matches the tagging requirements of
// a rule cannot be expired by a rule of lower priority. So the first rule
// selects every image tagged release-* and expires only beyond a count
// Protect never reaches: it claims the protected images, and the sha-*
// rule after it cannot touch them even though they carry a sha- tag too.

// claimCount is the release-* rule's count: far above what Protect tags
// in one repository (environments × (previous+1)), so the rule expires
// nothing, and the value AWS's own examples use to keep a tag prefix.
const claimCount = 9999

// BuildTagPrefix starts the tags builds write (sha-<12 hex>).
const BuildTagPrefix = "sha-"

// DefaultBuildDays is how long an unprotected build stays in ECR after its
// push: time for it to be promoted to a first environment, whose release
// tag then protects it.
const DefaultBuildDays = 30

// ECRPolicy is an ECR lifecycle policy document, as put-lifecycle-policy
// and a repository creation template take it.
type ECRPolicy struct {
	Rules []ECRRule `json:"rules"`
}

// ECRRule is one rule of an ECRPolicy.
type ECRRule struct {
	RulePriority int          `json:"rulePriority"`
	Description  string       `json:"description,omitempty"`
	Selection    ECRSelection `json:"selection"`
	Action       ECRAction    `json:"action"`
}

// ECRSelection chooses the images a rule applies to.
type ECRSelection struct {
	TagStatus     string   `json:"tagStatus"` // tagged, untagged or any
	TagPrefixList []string `json:"tagPrefixList,omitempty"`
	CountType     string   `json:"countType"` // imageCountMoreThan or sinceImagePushed
	CountUnit     string   `json:"countUnit,omitempty"`
	CountNumber   int      `json:"countNumber"`
}

// ECRAction is what a rule does to the images it selects.
type ECRAction struct {
	Type string `json:"type"`
}

// ECROptions tune ECRLifecyclePolicy.
type ECROptions struct {
	// BuildDays: an image tagged sha-* and no release-* expires this many
	// days after its push (DefaultBuildDays when 0).
	BuildDays int
	// UntaggedDays, when above 0, expires untagged images that many days
	// after their push. Off by default: on a registry with the OCI
	// referrers API, an image's provenance and SBOM are untagged manifests
	// of their own, and ECR would expire those of released images too.
	UntaggedDays int
}

// ECRLifecyclePolicy returns the ECR lifecycle policy of the rule Sweep
// applies: images an environment runs or may roll back to (tagged
// release-*, see Protect) are never expired, other builds (sha-*) are
// after o.BuildDays, untagged images only when o.UntaggedDays asks.
func ECRLifecyclePolicy(o ECROptions) (ECRPolicy, error) {
	if o.BuildDays == 0 {
		o.BuildDays = DefaultBuildDays
	}
	if o.BuildDays < 0 || o.UntaggedDays < 0 {
		return ECRPolicy{}, fmt.Errorf("lifecycle days must be positive (builds %d, untagged %d)", o.BuildDays, o.UntaggedDays)
	}
	p := ECRPolicy{Rules: []ECRRule{
		{RulePriority: 1, Description: "Conveyor: keep what environments run or may roll back to (release-*)",
			Selection: ECRSelection{TagStatus: "tagged", TagPrefixList: []string{TagPrefix}, CountType: "imageCountMoreThan", CountNumber: claimCount},
			Action:    ECRAction{Type: "expire"}},
		{RulePriority: 2, Description: fmt.Sprintf("Conveyor: expire builds no release tag protects after %d days", o.BuildDays),
			Selection: ECRSelection{TagStatus: "tagged", TagPrefixList: []string{BuildTagPrefix}, CountType: "sinceImagePushed", CountUnit: "days", CountNumber: o.BuildDays},
			Action:    ECRAction{Type: "expire"}},
	}}
	if o.UntaggedDays > 0 {
		p.Rules = append(p.Rules, ECRRule{RulePriority: 3, Description: fmt.Sprintf("Conveyor: expire untagged images after %d days", o.UntaggedDays),
			Selection: ECRSelection{TagStatus: "untagged", CountType: "sinceImagePushed", CountUnit: "days", CountNumber: o.UntaggedDays},
			Action:    ECRAction{Type: "expire"}})
	}
	return p, nil
}

// JSON is the policy text put-lifecycle-policy takes.
func (p ECRPolicy) JSON() ([]byte, error) {
	return json.MarshalIndent(p, "", "  ")
}
