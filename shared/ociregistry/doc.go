// Package ociregistry is the local runtime's embedded OCI registry:
// go-containerregistry's pkg/registry with blobs on disk, manifests kept in
// an append-only journal so they survive a restart, and a CNCF
// distribution notification for every manifest push — the same envelope a
// real registry sends, so the registry function consumes both alike.
package ociregistry
