package onboard

import (
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"gopkg.in/yaml.v3"
)

// valuesName matches Helm values file names and captures the environment
// they name: values.yaml, values-prod.yaml, values.prod.yaml,
// prod-values.yaml, prod.values.yaml.
var valuesName = regexp.MustCompile(`^(?:values(?:[-._]([a-z0-9][a-z0-9-]*))?|([a-z0-9][a-z0-9-]*)[-.]values)\.ya?ml$`)

// helmKey is a key a dotted values path can name.
var helmKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// maxValuesDepth bounds how deep a values file is searched for an image.
const maxValuesDepth = 6

// helmImage is one image setting in a values file: the dotted paths that
// hold it and what they hold.
type helmImage struct {
	paths      config.Helm
	repository string // the repository value; "" when the file leaves it to the chart's defaults
	ref        string
}

// helm proposes values files that set an image: each environment's
// values-<env>.yaml, with the chart's own values.yaml supplying what an
// override leaves out; a chart's values.yaml is an environment itself only
// when nothing overrides it.
func (s *scanner) helm() []Found {
	byDir := map[string][]string{}
	for _, p := range s.yamls {
		if valuesName.MatchString(path.Base(p)) && !s.inTemplates(p) {
			byDir[path.Dir(p)] = append(byDir[path.Dir(p)], p)
		}
	}
	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var found []Found
	for _, dir := range dirs {
		files := byDir[dir]
		var defaults []helmImage
		base := ""
		for _, f := range files {
			if b := path.Base(f); b == "values.yaml" || b == "values.yml" {
				base, defaults = f, s.valuesImages(f)
			}
		}
		for _, f := range files {
			if f == base && len(files) > 1 {
				continue
			}
			env := valuesEnv(f)
			for _, im := range merge(s.valuesImages(f), defaults) {
				if im.repository == "" {
					continue
				}
				found = append(found, Found{Path: f, Strategy: config.StrategyHelm, Image: im.repository, Ref: im.ref, Helm: im.paths, Env: env})
			}
		}
	}
	return found
}

// inTemplates reports whether p is a chart's template (YAML that is not
// values).
func (s *scanner) inTemplates(p string) bool {
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if path.Base(d) == "templates" && s.charts[path.Dir(d)] {
			return true
		}
	}
	return false
}

// valuesEnv is the environment a values file names, or that of its
// directory.
func valuesEnv(f string) string {
	m := valuesName.FindStringSubmatch(path.Base(f))
	if m != nil && m[1] != "" {
		return envName(path.Dir(f), m[1])
	}
	if m != nil && m[2] != "" {
		return envName(path.Dir(f), m[2])
	}
	return envName(path.Dir(f), "")
}

// merge completes an override's image settings with the defaults at the
// same paths (an override that sets only image.tag).
func merge(over, defaults []helmImage) []helmImage {
	out := make([]helmImage, 0, len(over))
	for _, o := range over {
		if o.repository == "" && o.paths.Image == "" {
			for _, d := range defaults {
				if d.paths.Repository == o.paths.Repository {
					o.repository = d.repository
					o.ref = d.repository + o.ref
					if o.paths.Digest == "" {
						o.paths.Digest = d.paths.Digest
					}
				}
			}
		}
		out = append(out, o)
	}
	return out
}

// valuesImages finds the image settings of a values file: a mapping with
// repository and tag or digest, or an "image" string holding a reference.
func (s *scanner) valuesImages(p string) []helmImage {
	docs := s.docs(p)
	if len(docs) == 0 {
		return nil
	}
	var out []helmImage
	var walk func(m *yaml.Node, prefix string, depth int)
	walk = func(m *yaml.Node, prefix string, depth int) {
		if depth > maxValuesDepth {
			return
		}
		if im, ok := imageMapping(m, prefix); ok {
			out = append(out, im)
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i].Value, m.Content[i+1]
			if !helmKey.MatchString(k) {
				continue
			}
			switch {
			case v.Kind == yaml.MappingNode:
				walk(v, join(prefix, k), depth+1)
			case k == "image" && v.Kind == yaml.ScalarNode && looksLikeRef(v.Value):
				out = append(out, helmImage{paths: config.Helm{Image: join(prefix, k)}, repository: repository(v.Value), ref: v.Value})
			}
		}
	}
	walk(docs[0], "", 0)
	return out
}

// imageMapping reads a mapping with repository and/or tag and digest keys.
func imageMapping(m *yaml.Node, prefix string) (helmImage, bool) {
	repo, tag, digest := field(m, "repository"), field(m, "tag"), field(m, "digest")
	if tag == nil && digest == nil || prefix == "" {
		return helmImage{}, false
	}
	im := helmImage{paths: config.Helm{Repository: join(prefix, "repository")}}
	if repo != nil && repo.Kind == yaml.ScalarNode {
		im.repository = repo.Value
		im.ref = repo.Value
	}
	if tag != nil {
		im.paths.Tag = join(prefix, "tag")
		if tag.Value != "" {
			im.ref += ":" + tag.Value
		}
	}
	if digest != nil {
		im.paths.Digest = join(prefix, "digest")
		if digest.Value != "" {
			im.ref += "@" + digest.Value
		}
	}
	return im, true
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// looksLikeRef reports whether a values string reads as an image
// reference with a registry path, tag or digest.
func looksLikeRef(v string) bool {
	return !strings.ContainsAny(v, " \t{}") && strings.ContainsAny(v, "/:@")
}
