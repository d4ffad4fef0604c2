package onboard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"gopkg.in/yaml.v3"
)

// Found is one place in the repository that sets an image: a candidate
// environment of the app that publishes Image.
type Found struct {
	Path     string          // slash path in the repository: a directory (kustomize) or a file
	Strategy config.Strategy // kustomize, helm or raw
	Image    string          // image repository the manifests name, without tag or digest
	// Ref is the reference written there today (with tag and/or digest),
	// for the proposal's comments.
	Ref       string
	Container string      // the container holding the image (raw)
	Helm      config.Helm // the values paths (helm)
	Env       string      // environment name read from the path
}

// scanner holds what one walk of the repository read.
type scanner struct {
	fsys fs.FS
	// kustomizations maps a directory to its parsed kustomization file.
	kustomizations map[string]*kustomization
	charts         map[string]bool // directories holding a Chart.yaml
	yamls          []string        // every *.yaml / *.yml file, sorted
	// claimed are the files and directories a kustomization reaches:
	// their images are that kustomization's, not plain manifests.
	claimed map[string]bool
}

// kustomization is the part of a kustomization file Scan reads.
type kustomization struct {
	file      string
	resources []string // resources, bases and components, relative to the file's directory
	images    []kustomizeImage
}

type kustomizeImage struct {
	Name    string `yaml:"name"`
	NewName string `yaml:"newName"`
	NewTag  string `yaml:"newTag"`
	Digest  string `yaml:"digest"`
}

// Scan finds every place fsys (a GitOps repository) sets an image. Hidden
// directories are skipped, and so are files over manifest.MaxFileSize and
// YAML that does not parse: a repository holds more than manifests.
func Scan(fsys fs.FS) ([]Found, error) {
	s := &scanner{fsys: fsys, kustomizations: map[string]*kustomization{}, charts: map[string]bool{}, claimed: map[string]bool{}}
	if err := s.walk(); err != nil {
		return nil, err
	}
	found := s.kustomize()
	found = append(found, s.helm()...)
	found = append(found, s.raw()...)
	return found, nil
}

func (s *scanner) walk() error {
	return fs.WalkDir(s.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scanning %s: %w", p, err)
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && strings.HasPrefix(name, ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			// Never follow a symlink out of the repository.
			return nil
		}
		dir := path.Dir(p)
		switch {
		case manifest.IsKustomization(name):
			if k := s.readKustomization(p); k != nil {
				s.kustomizations[dir] = k
			}
		case name == "Chart.yaml":
			s.charts[dir] = true
		}
		if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
			s.yamls = append(s.yamls, p)
		}
		return nil
	})
}

// read returns a file's bytes, or nil for one too large or unreadable.
func (s *scanner) read(p string) []byte {
	fi, err := fs.Stat(s.fsys, p)
	if err != nil || fi.Size() > manifest.MaxFileSize {
		return nil
	}
	data, err := fs.ReadFile(s.fsys, p)
	if err != nil {
		return nil
	}
	return data
}

// docs composes a file's YAML documents, or returns nil when it does not
// parse or holds aliases: composing never expands them, but scanning has
// no need of files that use them.
func (s *scanner) docs(p string) []*yaml.Node {
	data := s.read(p)
	if data == nil {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil || hasAlias(&doc) {
			return nil
		}
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
			out = append(out, doc.Content[0])
		}
	}
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

// field returns the value of key in mapping m, or nil.
func field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalars returns the string items of a sequence node.
func scalars(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if c.Kind == yaml.ScalarNode && c.Value != "" {
			out = append(out, c.Value)
		}
	}
	return out
}

// sortFound orders findings by path, then image, so a proposal is the same
// on every run.
func sortFound(f []Found) {
	sort.SliceStable(f, func(i, j int) bool {
		if f[i].Path != f[j].Path {
			return f[i].Path < f[j].Path
		}
		return f[i].Image < f[j].Image
	})
}
