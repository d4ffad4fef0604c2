package onboard

import (
	"path"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"gopkg.in/yaml.v3"
)

// podSpecPaths says where each workload kind the raw strategy edits keeps
// its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// container is a workload's container and the image it runs.
type container struct {
	name, image string
}

// containers lists the containers and init containers of the workloads in
// docs.
func containers(docs []*yaml.Node) []container {
	var out []container
	for _, d := range docs {
		kind := field(d, "kind")
		if kind == nil {
			continue
		}
		steps, ok := podSpecPaths[kind.Value]
		if !ok {
			continue
		}
		spec := d
		for _, s := range steps {
			spec = field(spec, s)
		}
		for _, key := range []string{"initContainers", "containers"} {
			list := field(spec, key)
			if list == nil || list.Kind != yaml.SequenceNode {
				continue
			}
			for _, c := range list.Content {
				name, image := field(c, "name"), field(c, "image")
				if name != nil && image != nil && image.Kind == yaml.ScalarNode && image.Value != "" {
					out = append(out, container{name: name.Value, image: image.Value})
				}
			}
		}
	}
	return out
}

func uniqueImages(cs []container) []container {
	seen := map[string]bool{}
	var out []container
	for _, c := range cs {
		r := repository(c.image)
		if !seen[r] {
			seen[r] = true
			out = append(out, c)
		}
	}
	return out
}

// repository strips the tag and digest from an image reference.
func repository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// raw proposes the plain manifests: workload files that no kustomization
// reaches and no chart templates.
func (s *scanner) raw() []Found {
	var found []Found
	for _, p := range s.yamls {
		if s.inKustomization(p) || s.inChart(p) || manifestNameSkipped(p) {
			continue
		}
		for _, c := range uniqueImages(containers(s.docs(p))) {
			found = append(found, Found{Path: p, Strategy: config.StrategyRaw, Image: repository(c.image), Ref: c.image, Container: c.name, Env: envName(path.Dir(p), "")})
		}
	}
	return found
}

// manifestNameSkipped reports files that are never an environment's
// manifests: a kustomization or chart file itself.
func manifestNameSkipped(p string) bool {
	switch path.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Chart.yaml":
		return true
	}
	return false
}

// inKustomization reports whether a kustomization reaches p: it is listed
// as a resource, or a kustomization sits in its directory or one above
// (patches in subdirectories included), the repository root aside.
func (s *scanner) inKustomization(p string) bool {
	if s.claimed[p] {
		return true
	}
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if s.kustomizations[d] != nil || s.claimed[d] {
			return true
		}
	}
	return false
}

// inChart reports whether p is inside a Helm chart.
func (s *scanner) inChart(p string) bool {
	for d := path.Dir(p); ; d = path.Dir(d) {
		if s.charts[d] {
			return true
		}
		if d == "." || d == "/" {
			return false
		}
	}
}
