package promoter

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// maxRenderFiles bounds the repository copy a render makes: beyond it the
// render check is skipped rather than slowing every promotion.
const maxRenderFiles = 20000

// verifyRender builds the Kustomize overlay at dir from the snapshot with
// the edits applied, as Argo CD or Flux will, and checks that a rendered
// workload carries the promoted reference. It catches an images: entry that
// matches no container, which would otherwise merge and deploy nothing.
func verifyRender(snap fs.FS, writes map[string][]byte, dir string, ref manifest.Ref, keepTag bool) error {
	mem := filesys.MakeFsInMemory()
	files := map[string]bool{}
	if err := kustomizeFiles(snap, path.Clean(dir), map[string]bool{}, files); err != nil {
		return fmt.Errorf("collecting the files of %s for the render check: %w", dir, err)
	}
	if len(files) > maxRenderFiles {
		return nil
	}
	for p := range files {
		data, ok := writes[p]
		if !ok {
			var err error
			if data, err = fs.ReadFile(snap, p); err != nil {
				return fmt.Errorf("reading %s for the render check: %w", p, err)
			}
		}
		if err := mem.WriteFile("/"+p, data); err != nil {
			return err
		}
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/"+path.Clean(dir))
	if err != nil {
		return retry.Permanent(fmt.Errorf("rendering %s with kustomize after the edit: %w", dir, err))
	}
	out, err := res.AsYaml()
	if err != nil {
		return fmt.Errorf("rendering %s: %w", dir, err)
	}
	want := ref.Repository + "@" + ref.Digest
	if keepTag && ref.Tag != "" {
		want = ref.Repository + ":" + ref.Tag + "@" + ref.Digest
	}
	if !bytes.Contains(out, []byte(want)) && !bytes.Contains(out, []byte("@"+ref.Digest)) {
		return retry.Permanent(fmt.Errorf("rendering %s: no workload uses %s after the edit (does an images: entry name the image the containers use?)", dir, shortRef(want)))
	}
	return nil
}

func shortRef(s string) string {
	if i := strings.Index(s, "@sha256:"); i >= 0 && len(s) > i+20 {
		return s[:i+20] + "…"
	}
	return s
}

// kustomizeFiles collects what rendering dir can read: every file of each
// kustomization directory it reaches through resources, bases and
// components (only those directories, not the whole repository, so a
// thousand-app repository costs what one app does).
func kustomizeFiles(snap fs.FS, dir string, seen, out map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	entries, err := fs.ReadDir(snap, dir)
	if err != nil {
		return err
	}
	var kfile string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		out[path.Join(dir, e.Name())] = true
		for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
			if e.Name() == n {
				kfile = path.Join(dir, n)
			}
		}
	}
	if kfile == "" {
		return nil
	}
	data, err := fs.ReadFile(snap, kfile)
	if err != nil {
		return err
	}
	var k struct {
		Resources  []string `yaml:"resources"`
		Bases      []string `yaml:"bases"`
		Components []string `yaml:"components"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil // kustomize reports it, with its own words
	}
	for _, ref := range append(append(k.Resources, k.Bases...), k.Components...) {
		if strings.Contains(ref, "://") || strings.HasPrefix(ref, "github.com/") {
			continue // remote bases are fetched by kustomize, not read here
		}
		p := path.Clean(path.Join(dir, ref))
		if p == ".." || strings.HasPrefix(p, "../") {
			continue
		}
		info, err := fs.Stat(snap, p)
		if err != nil {
			continue
		}
		if info.IsDir() {
			if err := kustomizeFiles(snap, p, seen, out); err != nil {
				return err
			}
		} else {
			out[p] = true
		}
	}
	return nil
}
