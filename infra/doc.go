// Package infra holds Conveyor's AWS SAM template (template.yaml) and the
// tests that prove its invariants: every work queue has its own dead-letter
// queue and an alarm on it, every SQS event source reports partial batch
// failures, visibility timeouts cover six times the consumer's timeout, and
// each function's IAM role grants only what that function does — with no
// wildcard action, no EKS action and no sts:AssumeRole anywhere, since
// Conveyor never touches a cluster. The Go code is tests only; this file
// makes the directory a package.
package infra
