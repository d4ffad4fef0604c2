// Package attest describes how an image was built, in standard formats any
// client can read, and attaches that description to the image in its
// registry.
//
// Every image gets two in-toto statements (https://in-toto.io/Statement/v1)
// whose subject is the image's digest: SLSA provenance v1 (the builder, the
// source repository and commit, the build recipe and its digest, the base
// image pinned by digest, start and finish times, the trace id) and a
// CycloneDX 1.5 SBOM of the files the build added, with the Go modules of
// any Go executable among them. Each is pushed as an OCI 1.1 referrer of the image
// (a manifest whose subject is the image), so `oras discover` lists them;
// go-containerregistry maintains the referrers tag (sha256-<hex>) on
// registries without the referrers API.
//
// With a Signer (an ECDSA P-256 key from a file), each statement is wrapped
// in a signed DSSE envelope, and the signed provenance is also published
// at the tag `cosign verify-attestation` reads (sha256-<hex>.att), so the
// standard verifier checks it with the public key.
//
// Verify reads an image's referrers back and returns its provenance when
// one is valid: its subject is the image, its builder the expected one
// and, when a public key is given, its signature checks.
package attest
