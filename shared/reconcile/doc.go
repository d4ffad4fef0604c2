// Package reconcile compares what the GitOps repository pins for each app's
// environment with what Conveyor's release records say runs there, and
// repairs the records: git is the truth. A revert of a promotion on the base
// branch is recorded as a rollback, any other out-of-band edit as a release
// made outside Conveyor, and a promotion whose merge event never arrived as
// merged.
package reconcile
