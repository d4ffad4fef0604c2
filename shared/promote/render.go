package promote

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
)

// verifyRender builds the Kustomize overlay at dir from the snapshot with
// the edits applied, as Argo CD or Flux will, and checks that a rendered
// workload carries the promoted reference. It catches an images: entry that
// matches no container, which would otherwise merge and deploy nothing.
//
// Kustomize reads the snapshot itself through a read-only file system, so
// it sees every file it would see in a checkout. A remote base (a git or
// http(s) URL in resources, bases or components) is fetched only when
// fetchRemote is set (Promoter.FetchRemoteBases); otherwise, and when the
// fetch fails, the promotion is refused as permanent with the URL named.
func verifyRender(snap fs.FS, writes map[string][]byte, dir string, ref manifest.Ref, keepTag, fetchRemote bool) error {
	view := manifest.Overlay(snap, writes)
	dir = path.Clean(dir)
	remote := remoteBases(view, dir)
	if len(remote) > 0 && !fetchRemote {
		return retry.Permanent(fmt.Errorf("rendering %s: it reaches the remote base %s, which the render check fetches only when fetching remote bases is enabled",
			dir, strings.Join(remote, ", ")))
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(newKustFS(view, fetchRemote), "/"+dir)
	if err != nil {
		if len(remote) > 0 {
			return retry.Permanent(fmt.Errorf("rendering %s with kustomize after the edit (remote bases %s): %w", dir, strings.Join(remote, ", "), err))
		}
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

// remoteBases lists the remote references the kustomization in dir reaches
// through resources, bases and components of local kustomizations: those
// kustomize would fetch over the network.
func remoteBases(fsys fs.FS, dir string) []string {
	var remote []string
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		kfile := manifest.KustomizationIn(fsys, dir)
		if kfile == "" {
			return
		}
		data, err := fs.ReadFile(fsys, kfile)
		if err != nil {
			return // kustomize reports it, in its own words
		}
		var k struct {
			Resources  []string `yaml:"resources"`
			Bases      []string `yaml:"bases"`
			Components []string `yaml:"components"`
		}
		if yaml.Unmarshal(data, &k) != nil {
			return
		}
		for _, ref := range append(append(k.Resources, k.Bases...), k.Components...) {
			p := path.Clean(path.Join(dir, ref))
			if fi, err := fs.Stat(fsys, p); err == nil {
				if fi.IsDir() {
					walk(p)
				}
				continue
			}
			if isRemote(ref) {
				remote = append(remote, ref)
			}
		}
	}
	walk(dir)
	return remote
}

// isRemote reports whether a reference kustomize cannot find locally is one
// it would fetch: a URL, an scp-style git address, or host/org/repo.
func isRemote(ref string) bool {
	if strings.Contains(ref, "://") || strings.HasPrefix(ref, "git@") || strings.Contains(ref, "?ref=") {
		return true
	}
	first, _, _ := strings.Cut(ref, "/")
	return strings.Contains(first, ".") && first != "." && first != ".." && strings.Contains(ref, "/")
}
