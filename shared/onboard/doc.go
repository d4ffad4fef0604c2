// Package onboard proposes a conveyor.yaml for an existing GitOps
// repository and imports what its environments pin today.
//
// [Scan] walks the repository and finds where images are set: Kustomize
// overlays (an images: entry, or the workloads their resources reach),
// Helm values files (a mapping with repository and tag or digest, or one
// image string) and plain Kubernetes manifests. [Propose] groups what it
// found by image repository into apps and orders each app's environments
// (dev, test, staging, prod, then others alphabetically). [Render] writes
// the proposal as a commented conveyor.yaml, and [Import] records each
// environment's pinned digest as its starting release, so status, the
// first pull request's "From" and rollback are right from the first day.
//
// The strategies are the ones conveyor.yaml names, and what init proposes
// is read back through the same editor promotions write with (see
// promote.Pinned), so a proposal that parses is one that promotes.
package onboard
