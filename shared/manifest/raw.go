package manifest

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// podSpecPaths maps each workload kind to where its pod spec sits.
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

// planRaw sets the image of the named container (or init container) in
// every workload of every document that has it. Two containers of that
// name in one workload are ambiguous; a file where no workload has it is
// ErrTargetNotFound.
func planRaw(s *source, t Target, ref Ref) ([]*edit, error) {
	name := t.Container
	if name == "" {
		name = t.App
	}
	if name == "" {
		return nil, errorf(ErrInvalidTarget, s.file, "", "raw needs a container or app name")
	}
	docs, err := s.parse()
	if err != nil {
		return nil, err
	}
	image := ref.Image(t.KeepTag)
	var edits []*edit
	notFound := ""
	for _, doc := range docs {
		top := root([]*yaml.Node{doc})
		kind := get(top, "kind")
		if kind == nil {
			continue
		}
		segs, ok := podSpecPaths[kind.Value]
		if !ok {
			continue
		}
		base := strings.Join(segs, ".")
		spec := top
		for _, seg := range segs {
			spec = get(spec, seg)
		}
		type hit struct {
			path string
			c    *yaml.Node
		}
		var hits []hit
		for _, list := range []string{"containers", "initContainers"} {
			seq := get(spec, list)
			if seq == nil || seq.Kind != yaml.SequenceNode {
				continue
			}
			for _, c := range seq.Content {
				if n := get(c, "name"); n == nil || n.Value != name {
					continue
				}
				if t.MatchRepository {
					img := get(c, "image")
					if img == nil || !sameRepository(img.Value, t.Repository) && !sameRepository(img.Value, ref.Repository) {
						continue
					}
				}
				hits = append(hits, hit{pathf("%s.%s[name=%s]", base, list, name), c})
			}
		}
		switch len(hits) {
		case 0:
			if notFound == "" {
				notFound = pathf("%s.containers[name=%s]", base, name)
			}
			continue
		case 1:
		default:
			return nil, errorf(ErrAmbiguous, s.file, hits[0].path, "%d containers named %q in %s %s", len(hits), name, kind.Value, objectName(top))
		}
		h := hits[0]
		p := h.path + ".image"
		var e *edit
		switch idx := lookup(h.c, "image"); len(idx) {
		case 0:
			e, err = s.insert(h.c, "image", image, p)
		case 1:
			e, err = s.set(h.c.Content[idx[0]], h.c.Content[idx[0]+1], image, p)
		default:
			return nil, errorf(ErrAmbiguous, s.file, p, "%d image: keys", len(idx))
		}
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
		notFound = "-" // found in one workload: the others need not have it
	}
	switch {
	case notFound == "":
		return nil, errorf(ErrTargetNotFound, s.file, "", "no workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)")
	case notFound != "-" && t.MatchRepository:
		return nil, errorf(ErrTargetNotFound, s.file, notFound, "no container named %q with an image of %s", name, matchRepository(t, ref))
	case notFound != "-":
		return nil, errorf(ErrTargetNotFound, s.file, notFound, "no container named %q", name)
	}
	return edits, nil
}

func matchRepository(t Target, ref Ref) string {
	if t.Repository != "" {
		return t.Repository
	}
	return ref.Repository
}

// objectName returns metadata.name of a Kubernetes object, quoted.
func objectName(top *yaml.Node) string {
	if n := get(get(top, "metadata"), "name"); n != nil {
		return `"` + n.Value + `"`
	}
	return "(unnamed)"
}
