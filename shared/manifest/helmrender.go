package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	k8syaml "sigs.k8s.io/yaml"
)

// ErrNotRenderable marks a chart Conveyor cannot render from the
// repository alone: no chart beside or above the values file, a chart
// fetched from elsewhere (a Flux HelmRelease), a dependency not vendored in
// charts/, or a chart too large to read. It says why; it is not a refusal.
var ErrNotRenderable = errors.New("chart not renderable from the repository")

// Bounds of a chart read for rendering: beyond them the render is skipped
// (ErrNotRenderable) rather than reading without limit.
const (
	maxChartFiles = 5000
	maxChartBytes = 32 << 20
)

// FindChart returns the chart directory of a values file: the nearest
// directory at or above the file's own that holds a Chart.yaml.
func FindChart(fsys fs.FS, valuesFile string) (string, bool) {
	for dir := path.Dir(path.Clean(valuesFile)); ; dir = path.Dir(dir) {
		if info, err := fs.Stat(fsys, path.Join(dir, "Chart.yaml")); err == nil && info.Mode().IsRegular() {
			return dir, true
		}
		if dir == "." || dir == "/" {
			return "", false
		}
	}
}

// RenderHelm renders the chart at chartDir of fsys as `helm template` does
// with values as the values file valuesFile (the chart's own values.yaml
// when valuesFile is that file, otherwise a file given with -f), and
// returns every image: value of the rendered documents. The render (see
// renderChart) reaches no cluster, DNS or network; values.schema.json is
// not applied (its $refs could name URLs).
func RenderHelm(fsys fs.FS, chartDir, valuesFile string, values []byte) ([]string, error) {
	if isHelmRelease(values) {
		return nil, fmt.Errorf("%w: %s is a Flux HelmRelease, whose chart (spec.chart) comes from its source, not from this directory", ErrNotRenderable, valuesFile)
	}
	files, err := readChart(fsys, chartDir)
	if err != nil {
		return nil, err
	}
	own := path.Join(chartDir, "values.yaml") == path.Clean(valuesFile)
	if own {
		files = replaceFile(files, "values.yaml", values)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", chartDir, err)
	}
	if err := vendored(ch, chartDir); err != nil {
		return nil, err
	}
	user := map[string]any{}
	if !own {
		if err := k8syaml.Unmarshal(values, &user); err != nil {
			return nil, fmt.Errorf("reading values %s: %w", valuesFile, err)
		}
	}
	out, err := renderChart(ch, user)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", chartDir, err)
	}
	return renderedImages(out)
}

// readChart reads every file under dir, named relative to it.
func readChart(fsys fs.FS, dir string) ([]*loader.BufferedFile, error) {
	var files []*loader.BufferedFile
	total := 0
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories walk on; symlinks are never followed
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += int(info.Size())
		if len(files) >= maxChartFiles || total > maxChartBytes {
			return fmt.Errorf("%w: chart %s is over %d files or %d bytes", ErrNotRenderable, dir, maxChartFiles, maxChartBytes)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if dir == "." {
			rel = p
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading chart %s: %w", dir, err)
	}
	return files, nil
}

func replaceFile(files []*loader.BufferedFile, name string, data []byte) []*loader.BufferedFile {
	for _, f := range files {
		if f.Name == name {
			f.Data = data
			return files
		}
	}
	return append(files, &loader.BufferedFile{Name: name, Data: data})
}

// vendored reports a dependency of ch (or of its subcharts) that is not in
// charts/: Helm would fetch it from its repository, which a render from
// the GitOps repository alone cannot do.
func vendored(ch *chart.Chart, dir string) error {
	have := map[string]bool{}
	for _, sub := range ch.Dependencies() {
		have[sub.Name()] = true
		if err := vendored(sub, path.Join(dir, "charts", sub.Name())); err != nil {
			return err
		}
	}
	for _, dep := range ch.Metadata.Dependencies {
		if dep != nil && !have[dep.Name] {
			return fmt.Errorf("%w: dependency %s of chart %s is not vendored in charts/ (helm dependency build)", ErrNotRenderable, dep.Name, dir)
		}
	}
	return nil
}

// renderedImages parses the rendered documents and returns every scalar
// image: value in them.
func renderedImages(out map[string]string) ([]string, error) {
	var images []string
	for name, text := range out {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(text) == "" {
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(text))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("parsing the rendered %s: %w", name, err)
			}
			images = appendImages(images, &doc)
		}
	}
	return images, nil
}

func appendImages(images []string, n *yaml.Node) []string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; k.Value == "image" && v.Kind == yaml.ScalarNode {
				images = append(images, v.Value)
			}
		}
	}
	for _, c := range n.Content {
		images = appendImages(images, c)
	}
	return images
}

// isHelmRelease reports whether data holds a Flux HelmRelease rather than
// a values file.
func isHelmRelease(data []byte) bool {
	return bytes.Contains(data, []byte("kind: HelmRelease")) && bytes.Contains(data, []byte("apiVersion: helm.toolkit.fluxcd.io/"))
}
