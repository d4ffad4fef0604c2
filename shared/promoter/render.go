package promoter

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
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
	n := 0
	err := fs.WalkDir(snap, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n++; n > maxRenderFiles {
			return fs.SkipAll
		}
		data, ok := writes[p]
		if !ok {
			if data, err = fs.ReadFile(snap, p); err != nil {
				return err
			}
		}
		return mem.WriteFile("/"+p, data)
	})
	if err != nil {
		return fmt.Errorf("copying the repository for the render check: %w", err)
	}
	if n > maxRenderFiles {
		return nil
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
