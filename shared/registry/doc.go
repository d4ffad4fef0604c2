// Package registry is the registry function's handler: a new image announced
// by a registry (CNCF distribution, Harbor, GHCR through the ingress, or
// Amazon ECR through EventBridge) becomes a promotion into the first
// environment of every app that publishes to that repository and whose tag
// policy accepts the tag. The image's provenance — source, revision,
// created — is read from the registry itself, not trusted from the event.
package registry
