package attest

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrNoProvenance is matched (errors.Is) when an image has no valid
// provenance from the expected builder.
var ErrNoProvenance = errors.New("no valid provenance")

// maxStatement bounds what Verify reads of one referrer.
const maxStatement = 4 << 20

// Verified is a provenance statement that passed Verify.
type Verified struct {
	Statement  *Statement
	Provenance *Provenance
	Signed     bool   // its signature checked with the public key
	Referrer   string // the referrer manifest's digest
}

// Verifier checks an image's provenance.
type Verifier struct {
	// BuilderID is the builder the provenance must name; DefaultBuilderID
	// when empty.
	BuilderID string
	// PublicKey, when set, is required to verify a signed envelope;
	// unsigned statements are then not accepted.
	PublicKey *ecdsa.PublicKey
	Options   []remote.Option
}

// Verify returns image's provenance: a referrer whose statement names the
// image's digest as subject and the expected builder (and, with a public
// key, whose signature checks). Without one, the error matches
// ErrNoProvenance and says why each candidate failed.
func (v *Verifier) Verify(ctx context.Context, image name.Digest) (*Verified, error) {
	ropts := append([]remote.Option{remote.WithContext(ctx)}, v.Options...)
	idx, err := remote.Referrers(image, ropts...)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w for %s: it has no referrers", ErrNoProvenance, image.DigestStr())
		}
		return nil, fmt.Errorf("listing referrers of %s: %w", image, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", image, err)
	}
	var why []string
	for _, d := range im.Manifests {
		if d.Annotations[AnnotationPredicateType] != PredicateSLSA {
			continue
		}
		ref := image.Context().Digest(d.Digest.String())
		got, err := v.check(ref, image, ropts)
		if err == nil {
			return got, nil
		}
		if !errors.Is(err, errInvalid) {
			return nil, err // the registry failed: retrying may help
		}
		why = append(why, fmt.Sprintf("%s: %v", d.Digest.Hex[:12], err))
	}
	if len(why) == 0 {
		return nil, fmt.Errorf("%w for %s: no SLSA provenance among its %d referrers", ErrNoProvenance, image.DigestStr(), len(im.Manifests))
	}
	return nil, fmt.Errorf("%w for %s: %s", ErrNoProvenance, image.DigestStr(), strings.Join(why, "; "))
}

// errInvalid marks a referrer that was read but is not acceptable.
var errInvalid = errors.New("invalid provenance")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errInvalid, fmt.Sprintf(format, a...))
}

func (v *Verifier) check(ref, image name.Digest, ropts []remote.Option) (*Verified, error) {
	img, err := remote.Image(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("reading referrer %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		return nil, invalid("want one layer (%v)", err)
	}
	mt, err := layers[0].MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading referrer %s: %w", ref, err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, fmt.Errorf("reading referrer %s: %w", ref, err)
	}
	defer rc.Close()
	blob, err := io.ReadAll(io.LimitReader(rc, maxStatement))
	if err != nil {
		return nil, fmt.Errorf("reading referrer %s: %w", ref, err)
	}
	payload, signed, err := v.open(string(mt), blob)
	if err != nil {
		return nil, err
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, invalid("decoding statement: %v", err)
	}
	if st.Type != StatementType {
		return nil, invalid("statement type %q", st.Type)
	}
	if !st.names(image.DigestStr()) {
		return nil, invalid("its subject is not %s", image.DigestStr())
	}
	p, err := st.ParseProvenance()
	if err != nil {
		return nil, invalid("%v", err)
	}
	if want := v.builderID(); p.RunDetails.Builder.ID != want {
		return nil, invalid("built by %q, not %q", p.RunDetails.Builder.ID, want)
	}
	return &Verified{Statement: &st, Provenance: p, Signed: signed, Referrer: ref.DigestStr()}, nil
}

// open returns a referrer's statement, checking its signature when a
// public key is configured.
func (v *Verifier) open(mediaType string, blob []byte) ([]byte, bool, error) {
	switch mediaType {
	case MediaTypeInToto:
		if v.PublicKey != nil {
			return nil, false, invalid("unsigned, and a signature is required")
		}
		return blob, false, nil
	case MediaTypeDSSE:
		var env Envelope
		if err := json.Unmarshal(blob, &env); err != nil {
			return nil, false, invalid("decoding envelope: %v", err)
		}
		if env.PayloadType != MediaTypeInToto {
			return nil, false, invalid("envelope payload type %q", env.PayloadType)
		}
		if v.PublicKey == nil {
			payload, err := env.decode()
			return payload, false, err
		}
		payload, err := env.Open(v.PublicKey)
		if err != nil {
			return nil, false, invalid("%v", err)
		}
		return payload, true, nil
	}
	return nil, false, invalid("media type %q", mediaType)
}

func (v *Verifier) builderID() string {
	if v.BuilderID == "" {
		return DefaultBuilderID
	}
	return v.BuilderID
}

// names reports whether the statement's subjects include digest.
func (s *Statement) names(digest string) bool {
	alg, hexd, _ := strings.Cut(digest, ":")
	for _, sub := range s.Subject {
		if sub.Digest[alg] == hexd {
			return true
		}
	}
	return false
}
