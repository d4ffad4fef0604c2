package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Types and media types of what Attach writes.
const (
	StatementType      = "https://in-toto.io/Statement/v1"
	PredicateSLSA      = "https://slsa.dev/provenance/v1"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	MediaTypeInToto    = "application/vnd.in-toto+json"
	MediaTypeDSSE      = "application/vnd.dsse.envelope.v1+json"
	MediaTypeCycloneDX = "application/vnd.cyclonedx+json"
	BuildType          = "https://github.com/conveyor-gitops/conveyor/buildtypes/image/v1"
	DefaultBuilderID   = "https://github.com/conveyor-gitops/conveyor/builder@v1"
)

// Statement is an in-toto v1 statement.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is an artifact a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Provenance is a SLSA v1 provenance predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is what was built, from what.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// ExternalParameters are the inputs a user controls.
type ExternalParameters struct {
	Source    SourceParameters `json:"source"`
	Recipe    RecipeParameters `json:"recipe"`
	Platforms []string         `json:"platforms,omitempty"`
}

// SourceParameters name the commit built.
type SourceParameters struct {
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
	Context    string `json:"context,omitempty"`
}

// RecipeParameters name the build recipe and its digest.
type RecipeParameters struct {
	File   string `json:"file"`   // "Dockerfile", or "conveyor.yaml build:"
	Digest string `json:"digest"` // sha256:<hex> of the recipe as built
}

// ResourceDescriptor is a resolved dependency.
type ResourceDescriptor struct {
	URI    string            `json:"uri"`
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// RunDetails say who built it, when.
type RunDetails struct {
	Builder  Builder  `json:"builder"`
	Metadata Metadata `json:"metadata"`
}

// Builder identifies the build platform.
type Builder struct {
	ID string `json:"id"`
}

// Metadata of one build run.
type Metadata struct {
	InvocationID string    `json:"invocationId,omitempty"` // the trace id
	StartedOn    time.Time `json:"startedOn"`
	FinishedOn   time.Time `json:"finishedOn"`
}

// Build is what a provenance statement records about one build.
type Build struct {
	Image      string // repository, for the subject's name
	Digest     string // sha256:<hex> of the manifest or index
	BuilderID  string // DefaultBuilderID when empty
	Repository string // source repository URL
	Commit     string
	Context    string
	RecipeFile string
	Recipe     []byte // the recipe as built (JSON), hashed into the provenance
	Base       string // repo@sha256:… or "scratch"
	Platforms  []string
	TraceID    string
	Started    time.Time
	Finished   time.Time
}

// ProvenanceStatement returns the SLSA provenance v1 statement of b.
func ProvenanceStatement(b Build) (*Statement, error) {
	id := b.BuilderID
	if id == "" {
		id = DefaultBuilderID
	}
	sum := sha256.Sum256(b.Recipe)
	p := Provenance{
		BuildDefinition: BuildDefinition{
			BuildType: BuildType,
			ExternalParameters: ExternalParameters{
				Source:    SourceParameters{Repository: b.Repository, Commit: b.Commit, Context: b.Context},
				Recipe:    RecipeParameters{File: b.RecipeFile, Digest: "sha256:" + hex.EncodeToString(sum[:])},
				Platforms: b.Platforms,
			},
			ResolvedDependencies: []ResourceDescriptor{{URI: "git+" + b.Repository + "@" + b.Commit, Digest: map[string]string{"gitCommit": b.Commit}}},
		},
		RunDetails: RunDetails{Builder: Builder{ID: id},
			Metadata: Metadata{InvocationID: b.TraceID, StartedOn: b.Started.UTC().Truncate(time.Second), FinishedOn: b.Finished.UTC().Truncate(time.Second)}},
	}
	if repo, dgst, ok := strings.Cut(b.Base, "@"); ok {
		alg, hexd, _ := strings.Cut(dgst, ":")
		p.BuildDefinition.ResolvedDependencies = append(p.BuildDefinition.ResolvedDependencies,
			ResourceDescriptor{URI: "oci://" + repo, Name: "base", Digest: map[string]string{alg: hexd}})
	}
	return statement(b.Image, b.Digest, PredicateSLSA, p)
}

func statement(image, digest, predicateType string, predicate any) (*Statement, error) {
	raw, err := json.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s predicate: %w", predicateType, err)
	}
	alg, hexd, ok := strings.Cut(digest, ":")
	if !ok {
		return nil, fmt.Errorf("subject digest %q is not algorithm:hex", digest)
	}
	return &Statement{Type: StatementType, Subject: []Subject{{Name: image, Digest: map[string]string{alg: hexd}}},
		PredicateType: predicateType, Predicate: raw}, nil
}

// ParseProvenance decodes a statement's SLSA predicate.
func (s *Statement) ParseProvenance() (*Provenance, error) {
	if s.PredicateType != PredicateSLSA {
		return nil, fmt.Errorf("predicate type %q is not %s", s.PredicateType, PredicateSLSA)
	}
	var p Provenance
	if err := json.Unmarshal(s.Predicate, &p); err != nil {
		return nil, fmt.Errorf("decoding provenance: %w", err)
	}
	return &p, nil
}
