package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations on the referrers Attach writes.
const (
	// AnnotationPredicateType is the statement's predicate type, as
	// BuildKit's attestations also name it, so a reader can pick the
	// referrer it wants without fetching them all.
	AnnotationPredicateType = "in-toto.io/predicate-type"
	// AnnotationBuilder is the builder id that attached the statement.
	AnnotationBuilder = "dev.conveyor.attestation.builder"
	// cosignSignature marks a layer of a cosign .att image; the signature
	// is inside the envelope, so the value is empty.
	cosignSignature = "dev.cosignproject.cosign/signature"
)

// emptyConfig is the OCI empty descriptor's blob, the config of an
// artifact manifest.
var emptyConfig = []byte("{}")

const mediaTypeEmpty types.MediaType = "application/vnd.oci.empty.v1+json"

// artifact is an OCI 1.1 artifact manifest: one layer, an empty config,
// and the image it refers to as subject.
type artifact struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        v1.Descriptor     `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Subject       *v1.Descriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// rawManifest is a manifest remote.Put writes as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// Attacher pushes statements as referrers of images.
type Attacher struct {
	// BuilderID is recorded on each referrer; DefaultBuilderID when empty.
	BuilderID string
	// Signer, when set, signs each statement (a DSSE envelope) and also
	// publishes the signed provenance where cosign looks for it.
	Signer  *Signer
	Options []remote.Option
}

// Attach pushes each statement as a referrer of subject in repo. It is
// idempotent: a statement of the same predicate type this builder already
// attached to subject is kept, not pushed again.
func (a *Attacher) Attach(ctx context.Context, repo name.Repository, subject v1.Descriptor, statements ...*Statement) error {
	ropts := append([]remote.Option{remote.WithContext(ctx)}, a.Options...)
	have, err := a.attached(repo.Digest(subject.Digest.String()), ropts)
	if err != nil {
		return err
	}
	if err := remote.WriteLayer(repo, static.NewLayer(emptyConfig, mediaTypeEmpty), ropts...); err != nil {
		return fmt.Errorf("uploading the empty config to %s: %w", repo, err)
	}
	for _, st := range statements {
		if have[st.PredicateType] {
			continue
		}
		if err := a.push(ctx, repo, subject, st, ropts); err != nil {
			return err
		}
	}
	return nil
}

// attached lists the predicate types this builder attached to subject.
func (a *Attacher) attached(subject name.Digest, ropts []remote.Option) (map[string]bool, error) {
	idx, err := remote.Referrers(subject, ropts...)
	if err != nil {
		if isNotFound(err) {
			return map[string]bool{}, nil
		}
		return nil, fmt.Errorf("listing referrers of %s: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", subject, err)
	}
	have := map[string]bool{}
	for _, d := range im.Manifests {
		if d.Annotations[AnnotationBuilder] == a.builderID() {
			have[d.Annotations[AnnotationPredicateType]] = true
		}
	}
	return have, nil
}

func (a *Attacher) builderID() string {
	if a.BuilderID == "" {
		return DefaultBuilderID
	}
	return a.BuilderID
}

func (a *Attacher) push(ctx context.Context, repo name.Repository, subject v1.Descriptor, st *Statement, ropts []remote.Option) error {
	payload, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding statement: %w", err)
	}
	blob, mt := payload, types.MediaType(MediaTypeInToto)
	if a.Signer != nil {
		env, err := a.Signer.Sign(MediaTypeInToto, payload)
		if err != nil {
			return err
		}
		if blob, err = json.Marshal(env); err != nil {
			return fmt.Errorf("encoding envelope: %w", err)
		}
		mt = MediaTypeDSSE
	}
	layer := static.NewLayer(blob, mt)
	if err := remote.WriteLayer(repo, layer, ropts...); err != nil {
		return fmt.Errorf("uploading %s statement to %s: %w", st.PredicateType, repo, err)
	}
	ld, _ := layer.Digest()
	annotations := map[string]string{AnnotationPredicateType: st.PredicateType, AnnotationBuilder: a.builderID()}
	m := artifact{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: string(mt),
		Config:      v1.Descriptor{MediaType: mediaTypeEmpty, Digest: emptyDigest(), Size: int64(len(emptyConfig))},
		Layers:      []v1.Descriptor{{MediaType: mt, Digest: ld, Size: int64(len(blob))}},
		Subject:     &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: annotations}
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding referrer manifest: %w", err)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw: raw, mt: types.OCIManifestSchema1}, ropts...); err != nil {
		return fmt.Errorf("pushing %s statement for %s: %w", st.PredicateType, subject.Digest, err)
	}
	if a.Signer != nil && st.PredicateType == PredicateSLSA {
		return a.pushCosign(repo, subject, blob, ropts)
	}
	return nil
}

// pushCosign publishes a signed provenance envelope at the tag cosign
// reads attestations from (sha256-<hex>.att), unless one is there.
func (a *Attacher) pushCosign(repo name.Repository, subject v1.Descriptor, envelope []byte, ropts []remote.Option) error {
	tag := repo.Tag(subject.Digest.Algorithm + "-" + subject.Digest.Hex + ".att")
	if _, err := remote.Head(tag, ropts...); err == nil {
		return nil
	} else if !isNotFound(err) {
		return fmt.Errorf("checking %s: %w", tag, err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(envelope, MediaTypeDSSE), MediaType: MediaTypeDSSE,
		Annotations: map[string]string{cosignSignature: "", "predicateType": PredicateSLSA}})
	if err != nil {
		return fmt.Errorf("making %s: %w", tag, err)
	}
	if err := remote.Write(tag, img, ropts...); err != nil {
		return fmt.Errorf("pushing %s: %w", tag, err)
	}
	return nil
}

func emptyDigest() v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(emptyConfig))
	return h
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
