package onboard

import (
	"path"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"gopkg.in/yaml.v3"
)

func (s *scanner) readKustomization(p string) *kustomization {
	docs := s.docs(p)
	if len(docs) == 0 {
		return nil
	}
	top := docs[0]
	k := &kustomization{file: p}
	for _, key := range []string{"resources", "bases", "components"} {
		k.resources = append(k.resources, scalars(field(top, key))...)
	}
	if imgs := field(top, "images"); imgs != nil && imgs.Kind == yaml.SequenceNode {
		for _, n := range imgs.Content {
			var im kustomizeImage
			if n.Decode(&im) == nil && im.Name != "" {
				k.images = append(k.images, im)
			}
		}
	}
	return k
}

// local resolves a kustomization's resource to a slash path in the
// repository, or "" for a remote one or one that leaves the repository.
func local(dir, res string) string {
	if strings.Contains(res, "://") || strings.HasPrefix(res, "github.com/") || strings.Contains(res, "?ref=") {
		return ""
	}
	p := path.Clean(path.Join(dir, res))
	if p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
		return ""
	}
	return p
}

// kustomize proposes every kustomization that is an environment: one that
// sets images, or one no other kustomization builds on. Bases (by name, or
// referenced and naming no environment) and aggregators (kustomizations of
// other environments, as in a Flux cluster directory) are not.
func (s *scanner) kustomize() []Found {
	referenced := map[string]bool{}
	for dir, k := range s.kustomizations {
		for _, r := range k.resources {
			if p := local(dir, r); p != "" {
				referenced[p] = true
				s.claimed[p] = true
			}
		}
	}
	isBase := func(d string) bool {
		k := s.kustomizations[d]
		return baseDir(d) || referenced[d] && len(k.images) == 0 && envWord(d) == ""
	}
	dirs := make([]string, 0, len(s.kustomizations))
	for d := range s.kustomizations {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var found []Found
	for _, dir := range dirs {
		k := s.kustomizations[dir]
		if isBase(dir) {
			continue
		}
		env := envName(dir, "")
		if len(k.images) > 0 {
			for _, im := range k.images {
				image := im.Name
				if im.NewName != "" {
					image = im.NewName
				}
				found = append(found, Found{Path: dir, Strategy: config.StrategyKustomize, Image: image, Ref: kustomizeRef(image, im), Env: env})
			}
			continue
		}
		if s.aggregates(dir, isBase) {
			continue
		}
		for _, c := range s.reach(dir, map[string]bool{}) {
			found = append(found, Found{Path: dir, Strategy: config.StrategyKustomize, Image: repository(c.image), Ref: c.image, Env: env})
		}
	}
	return found
}

func kustomizeRef(image string, im kustomizeImage) string {
	ref := image
	if im.NewTag != "" {
		ref += ":" + im.NewTag
	}
	if im.Digest != "" {
		ref += "@" + im.Digest
	}
	return ref
}

// aggregates reports whether dir builds on a kustomization that is itself
// an environment.
func (s *scanner) aggregates(dir string, isBase func(string) bool) bool {
	for _, r := range s.kustomizations[dir].resources {
		if p := local(dir, r); p != "" && s.kustomizations[p] != nil && !isBase(p) {
			return true
		}
	}
	return false
}

// reach returns the containers of the workloads dir's kustomization
// reaches through its resources, one per image repository.
func (s *scanner) reach(dir string, seen map[string]bool) []container {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	var out []container
	for _, r := range s.kustomizations[dir].resources {
		p := local(dir, r)
		switch {
		case p == "":
		case s.kustomizations[p] != nil:
			out = append(out, s.reach(p, seen)...)
		case strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml"):
			out = append(out, containers(s.docs(p))...)
		}
	}
	return uniqueImages(out)
}

// baseDir reports whether a path names a Kustomize base or component.
func baseDir(d string) bool {
	for _, c := range strings.Split(d, "/") {
		switch c {
		case "base", "bases", "components", "common":
			return true
		}
	}
	return false
}
