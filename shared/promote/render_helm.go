package promote

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// verifyHelm renders the chart of each values file a Helm promotion
// changed, as `helm template` would with that file, and refuses (as
// permanent) an edit whose digest reaches no rendered image: a chart whose
// templates never read the value written would merge and deploy nothing.
// A chart that cannot be rendered from the repository alone (fetched from
// a chart repository, dependencies not vendored) is not refused: the
// returned note says so, for the pull request body. An edit that breaks a
// chart that rendered before is refused; a chart that did not render
// before the edit either is noted, not blamed on the edit.
func verifyHelm(snap fs.FS, env *config.Environment, writes map[string][]byte, ref manifest.Ref) (string, error) {
	if env.Strategy != config.StrategyHelm {
		return "", nil
	}
	files := make([]string, 0, len(writes))
	for f := range writes {
		files = append(files, f)
	}
	sort.Strings(files)
	var notes []string
	for _, f := range files {
		note, err := verifyValues(snap, f, writes[f], ref)
		if err != nil {
			return "", err
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	return strings.Join(notes, " "), nil
}

func verifyValues(snap fs.FS, file string, edited []byte, ref manifest.Ref) (string, error) {
	dir, ok := manifest.FindChart(snap, file)
	if !ok {
		return fmt.Sprintf("The chart was not rendered before this pull request: no Chart.yaml beside or above `%s` (a chart from a chart repository is not fetched), so nothing checked that the digest reaches a workload.", file), nil
	}
	images, err := manifest.RenderHelm(snap, dir, file, edited)
	if errors.Is(err, manifest.ErrNotRenderable) {
		return fmt.Sprintf("The chart was not rendered before this pull request: %v.", err), nil
	}
	if err != nil {
		before, rerr := fs.ReadFile(snap, file)
		if rerr == nil {
			_, rerr = manifest.RenderHelm(snap, dir, file, before)
		}
		if rerr != nil {
			return fmt.Sprintf("The chart `%s` does not render from the repository alone, before this edit as after it (%v), so nothing checked that the digest reaches a workload.", dir, err), nil
		}
		return "", retry.Permanent(fmt.Errorf("rendering chart %s with the edited %s: %w", dir, file, err))
	}
	for _, img := range images {
		if strings.HasSuffix(img, "@"+ref.Digest) {
			return "", nil
		}
	}
	return "", retry.Permanent(fmt.Errorf("rendering chart %s with the edited %s: no workload uses %s (do the chart's templates read the values Conveyor writes?)", dir, file, shortRef(ref.Image(true))))
}
