package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"

	"gopkg.in/yaml.v3"
)

// Edit strategies, as conveyor.yaml names them. An empty Target.Strategy
// means detect.
const (
	StrategyKustomize = "kustomize" // the images: entry of a kustomization
	StrategyHelm      = "helm"      // dotted paths in a Helm values file
	StrategyRaw       = "raw"       // a container's image in Kubernetes workloads
	StrategyMarker    = "marker"    // lines marked "# conveyor:image <app>"
)

// Target says which value of a manifest holds an app's image.
type Target struct {
	// Strategy is one of the Strategy constants, or "" to detect it from the
	// file name and content (see Detect).
	Strategy string
	// Repository is the image repository the manifests refer to today, used
	// to match kustomize entries and, with MatchRepository, containers. It
	// defaults to the written Ref's repository; when the two differ, a
	// kustomize entry gets newName.
	Repository string
	// App names the app in marker comments and is the default Container.
	App string
	// Container is the container to edit with the raw strategy.
	Container string
	// MatchRepository restricts the raw strategy to containers whose current
	// image has Repository as its repository.
	MatchRepository bool
	// HelmImage is the dotted path of a values string set to the whole
	// reference. Otherwise HelmRepository is set to the repository, with
	// HelmDigest set to the digest and/or HelmTag to the tag (to
	// "tag@sha256:..." when there is no digest path).
	HelmImage, HelmRepository, HelmDigest, HelmTag string
	// KeepTag writes repository:tag@sha256:... (and keeps kustomize newTag)
	// when the Ref has a tag.
	KeepTag bool
}

// Change is one value written, added or removed, for the promotion pull
// request to show.
type Change struct {
	File string // as given to Edit, or the slash path in the EditTree file system
	Line int    // 1-based line of the new value in the edited file; of the old one for a removal
	Path string // YAML path, e.g. images[name=web].digest
	Old  string // "" when the value was added
	New  string // "" when the value was removed
}

type planFunc func(*source, Target, Ref) ([]*edit, error)

// Edit sets ref in one file's bytes for target t and returns the new bytes
// and what changed. Only the bytes of the target values change. When the
// file already holds ref, Edit returns data itself and no changes.
func Edit(file string, data []byte, t Target, ref Ref) ([]byte, []Change, error) {
	if err := ref.Validate(); err != nil {
		return nil, nil, fmt.Errorf("checking ref %q: %w", ref.String(), err)
	}
	if len(data) > MaxFileSize {
		return nil, nil, errorf(ErrTooLarge, file, "", "%d bytes, over the limit of %d", len(data), MaxFileSize)
	}
	strategy := t.Strategy
	if strategy == "" {
		strategy = detectFile(file, data, t)
	}
	plan, err := planner(strategy)
	if err != nil {
		return nil, nil, err
	}
	s := newSource(file, data)
	edits, err := plan(s, t, ref)
	if err != nil {
		return nil, nil, err
	}
	out, changes, err := s.apply(edits)
	if err != nil || len(changes) == 0 {
		return data, nil, err
	}
	// The edited file must parse and already hold every value: planning it
	// again finds nothing to do. This keeps a splice this package got wrong
	// from ever being written.
	again, err := plan(newSource(file, out), t, ref)
	if err == nil {
		_, more, _ := newSource(file, out).apply(again)
		if len(more) > 0 {
			err = errors.New("values not found where they were written")
		}
	}
	if err != nil {
		return nil, nil, errorf(ErrUnsupported, file, changes[0].Path, "checking the edit: %v", err)
	}
	return out, changes, nil
}

func planner(strategy string) (planFunc, error) {
	switch strategy {
	case StrategyKustomize:
		return planKustomize, nil
	case StrategyHelm:
		return planHelm, nil
	case StrategyRaw:
		return planRaw, nil
	case StrategyMarker:
		return planMarker, nil
	}
	return nil, fmt.Errorf("%w: unknown strategy %q", ErrInvalidTarget, strategy)
}

// detectFile picks the strategy for one file: kustomize for a
// kustomization, helm when Helm paths are set, marker when the file marks
// the app, raw otherwise.
func detectFile(file string, data []byte, t Target) string {
	switch {
	case isKustomization(path.Base(file)):
		return StrategyKustomize
	case t.HelmImage != "" || t.HelmRepository != "":
		return StrategyHelm
	case t.App != "" && hasMarker(data, t.App):
		return StrategyMarker
	}
	return StrategyRaw
}

// parse composes every YAML document of the file into node trees and
// refuses more than MaxAliases alias nodes. Composing never expands an
// alias.
func (s *source) parse() (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, errorf(ErrUnsupported, s.file, "", "parsing YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(s.data))
	aliases := 0
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, errorf(ErrUnsupported, s.file, "", "parsing YAML: %v", err)
		}
		if aliases += countAliases(&n, MaxAliases+1-aliases); aliases > MaxAliases {
			return nil, errorf(ErrTooManyAliases, s.file, "", "more than %d aliases: refusing a possible alias bomb", MaxAliases)
		}
		if err := s.checkKeys(&n); err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// checkKeys refuses a mapping that repeats a key, as kubectl, kustomize
// and Helm do: which of the two is the target would be a guess.
func (s *source) checkKeys(n *yaml.Node) error {
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n, stack = stack[len(stack)-1], stack[:len(stack)-1]
		if n.Kind == yaml.MappingNode {
			seen := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode {
					continue
				}
				if line, dup := seen[k.Value]; dup {
					return errorf(ErrAmbiguous, s.file, "", "line %d: key %q already defined at line %d", k.Line, k.Value, line)
				}
				seen[k.Value] = k.Line
			}
		}
		if n.Kind != yaml.AliasNode {
			stack = append(stack, n.Content...)
		}
	}
	return nil
}

// countAliases counts alias nodes under n without following them, stopping
// once it reaches limit.
func countAliases(n *yaml.Node, limit int) int {
	count := 0
	stack := []*yaml.Node{n}
	for len(stack) > 0 && count < limit {
		n, stack = stack[len(stack)-1], stack[:len(stack)-1]
		if n.Kind == yaml.AliasNode {
			count++
			continue
		}
		stack = append(stack, n.Content...)
	}
	return count
}

// root returns the top node of the first document, or nil for an empty file.
func root(docs []*yaml.Node) *yaml.Node {
	if len(docs) == 0 || len(docs[0].Content) == 0 {
		return nil
	}
	return docs[0].Content[0]
}
