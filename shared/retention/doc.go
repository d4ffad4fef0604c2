// Package retention keeps a registry's lifecycle rules from deleting what an
// environment runs or may roll back to.
//
// Conveyor tags images only sha-<12 hex>, so a rule that expires sha-* or
// untagged images could delete the digest production runs. Protect moves a
// tag per environment to each protected digest: release-<env> to the
// current release and release-<env>-1 … release-<env>-<n> to the previous
// ones, newest first. A lifecycle rule that keeps every image tagged
// release-* then never expires them: ECRLifecyclePolicy writes that rule
// for ECR, where a rule can only expire, by claiming release-* images in a
// first rule; Sweep applies the same rule to a registry Conveyor cleans
// itself.
package retention
