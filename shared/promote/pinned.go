package promote

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
)

// probeDigest is a digest no image has: editing towards it reports every
// value an environment pins today as the "old" side of a change.
const probeDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

var pinnedDigestRE = regexp.MustCompile(`sha256:[a-f0-9]{64}`)

// Pinned returns the digest an environment's manifests pin in snap, read by
// the same editor promotions write with, so what is read is exactly what a
// promotion would replace. It returns "" when the manifests name the image
// without a digest, and an error when they do not name it at all or pin
// different digests in different places.
func Pinned(snap fs.FS, app *config.App, env *config.Environment) (string, error) {
	// The probe carries a tag so that a Helm tag path (written as
	// "tag@sha256:…") reads like every other layout.
	ref := manifest.Ref{Repository: app.Image, Tag: "conveyor-probe", Digest: probeDigest}
	_, changes, err := editEnv(snap, app, env, ref)
	if err != nil {
		return "", fmt.Errorf("reading what %s/%s pins: %w", app.Name, env.Name, err)
	}
	seen := map[string]bool{}
	var digests []string
	for _, c := range changes {
		d := pinnedDigestRE.FindString(c.Old)
		if d == "" || d == probeDigest || seen[d] {
			continue
		}
		seen[d] = true
		digests = append(digests, d)
	}
	switch len(digests) {
	case 0:
		return "", nil
	case 1:
		return digests[0], nil
	}
	return "", fmt.Errorf("reading what %s/%s pins: the manifests pin %d digests (%s)", app.Name, env.Name, len(digests), strings.Join(digests, ", "))
}
