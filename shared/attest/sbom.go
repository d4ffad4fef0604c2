package attest

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
)

// BOM is the part of a CycloneDX 1.5 document Conveyor writes.
type BOM struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	SerialNumber string       `json:"serialNumber"`
	Version      int          `json:"version"`
	Metadata     BOMMetadata  `json:"metadata"`
	Components   []Component  `json:"components"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
}

// BOMMetadata says what the BOM describes.
type BOMMetadata struct {
	Timestamp string    `json:"timestamp"`
	Tools     BOMTools  `json:"tools"`
	Component Component `json:"component"`
}

// BOMTools names the tool that wrote the BOM.
type BOMTools struct {
	Components []Component `json:"components"`
}

// Component is a file, a library or the image itself.
type Component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref,omitempty"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Hashes     []Hash     `json:"hashes,omitempty"`
	Properties []Property `json:"properties,omitempty"`
}

// Hash is a component's digest.
type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// Property is a name/value pair.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Dependency says which libraries a file was built from.
type Dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// SBOMStatement returns the CycloneDX SBOM statement of the files a build
// added to image@digest. A file identical on several platforms is listed
// once, with a conveyor:platform property per platform.
func SBOMStatement(image, digest string, created time.Time, contents []imagebuild.PlatformContents) (*Statement, error) {
	bom := newBOM(image, digest, created)
	files := map[string]int{} // path + digest → index in Components
	libs := map[string]bool{}
	deps := map[string][]string{}
	for _, pc := range contents {
		for _, f := range pc.Files {
			key := f.Path + "@" + f.SHA256
			i, seen := files[key]
			if !seen {
				i = len(bom.Components)
				files[key] = i
				bom.Components = append(bom.Components, Component{Type: "file", BOMRef: "file:" + key, Name: f.Path,
					Hashes: []Hash{{Alg: "SHA-256", Content: f.SHA256}}})
				addGo(&bom, f, libs, deps)
			}
			bom.Components[i].Properties = append(bom.Components[i].Properties, Property{Name: "conveyor:platform", Value: pc.Platform})
		}
	}
	refs := make([]string, 0, len(deps))
	for r := range deps {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	for _, r := range refs {
		bom.Dependencies = append(bom.Dependencies, Dependency{Ref: r, DependsOn: deps[r]})
	}
	return statement(image, digest, PredicateCycloneDX, bom)
}

func newBOM(image, digest string, created time.Time) BOM {
	// The serial number is derived from the image, so the same image
	// always gets the same BOM.
	h := sha256.Sum256([]byte(image + "@" + digest))
	h[6], h[8] = h[6]&0x0f|0x50, h[8]&0x3f|0x80 // a name-based (version 5 style) UUID
	serial := fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	return BOM{BOMFormat: "CycloneDX", SpecVersion: "1.5", SerialNumber: serial, Version: 1,
		Metadata: BOMMetadata{Timestamp: created.UTC().Format(time.RFC3339),
			Tools:     BOMTools{Components: []Component{{Type: "application", Name: "conveyor"}}},
			Component: Component{Type: "container", BOMRef: "image", Name: image, Version: digest}},
		Components: []Component{}}
}

// addGo lists a Go executable's modules as libraries it depends on.
func addGo(bom *BOM, f imagebuild.AddedFile, libs map[string]bool, deps map[string][]string) {
	if f.Go == nil {
		return
	}
	ref := "file:" + f.Path + "@" + f.SHA256
	i := len(bom.Components) - 1
	bom.Components[i].Properties = append(bom.Components[i].Properties, Property{Name: "conveyor:go-version", Value: f.Go.GoVersion})
	for _, m := range append([]imagebuild.Module{f.Go.Main}, f.Go.Deps...) {
		if m.Path == "" {
			continue
		}
		if m.Version == "(devel)" {
			m.Version = "" // built from a work tree: no version to claim
		}
		purl := "pkg:golang/" + m.Path
		if m.Version != "" {
			purl += "@" + m.Version
		}
		if !libs[purl] {
			libs[purl] = true
			bom.Components = append(bom.Components, Component{Type: "library", BOMRef: purl, Name: m.Path, Version: m.Version, PURL: purl})
		}
		deps[ref] = append(deps[ref], purl)
	}
}
