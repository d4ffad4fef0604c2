// Package gitops reads and writes the GitOps repository with go-git: the
// pipeline's conveyor.yaml and, for promotions, the manifests it edits.
package gitops
