package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"
)

// This file renders a loaded chart as `helm template` does, for the render
// check only: Go templates with the sprig functions and Helm's own
// (include, tpl, required, toYaml…), values coalesced from the chart's
// defaults, the given values and subchart scoping with globals. Helm's
// engine package is not used: it links Kubernetes client packages and a
// JSON-schema compiler whose initialisation alone would take most of a
// Lambda cold start budget. Like `helm template`, it reaches no cluster:
// lookup returns an empty map and getHostByName an empty string.

// maxIncludeDepth bounds include/tpl recursion, as a template can call
// itself.
const maxIncludeDepth = 1000

// renderChart renders every template of ch and its enabled subcharts with
// values over ch's defaults, keyed by template path.
func renderChart(ch *chart.Chart, values map[string]any) (map[string]string, error) {
	t := template.New("chart").Option("missingkey=zero")
	r := &chartRenderer{t: t}
	t.Funcs(r.funcs())
	var jobs []renderJob
	if err := r.collect(ch, coalesce(ch.Values, values), ch.Name(), &jobs); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, j := range jobs {
		if strings.HasPrefix(path.Base(j.name), "_") || path.Base(j.name) == "NOTES.txt" {
			continue
		}
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, j.name, j.data); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", j.name, err)
		}
		out[j.name] = strings.ReplaceAll(b.String(), "<no value>", "")
	}
	return out, nil
}

type renderJob struct {
	name string
	data map[string]any
}

type chartRenderer struct {
	t     *template.Template
	depth int
}

// collect parses the templates of ch (at chart path base) into the shared
// template set, so include finds partials of any chart, and queues their
// data; then it does the same for each enabled dependency with its scoped
// values.
func (r *chartRenderer) collect(ch *chart.Chart, vals map[string]any, base string, jobs *[]renderJob) error {
	files := chartFileMap(ch)
	for _, f := range ch.Templates {
		name := path.Join(base, f.Name)
		if _, err := r.t.New(name).Parse(string(f.Data)); err != nil {
			return fmt.Errorf("parsing %s: %w", name, err)
		}
		*jobs = append(*jobs, renderJob{name: name, data: map[string]any{
			"Values":       vals,
			"Chart":        ch.Metadata,
			"Release":      map[string]any{"Name": "conveyor-check", "Namespace": "default", "IsInstall": true, "IsUpgrade": false, "Revision": 1, "Service": "Helm"},
			"Capabilities": defaultCapabilities,
			"Template":     map[string]any{"Name": name, "BasePath": path.Join(base, "templates")},
			"Files":        files,
		}})
	}
	subs := map[string]*chart.Chart{}
	for _, sub := range ch.Dependencies() {
		subs[sub.Name()] = sub
	}
	for _, dep := range ch.Metadata.Dependencies {
		sub, ok := subs[dep.Name]
		if !ok || !enabled(dep.Condition, vals) {
			continue
		}
		name := dep.Name
		if dep.Alias != "" {
			name = dep.Alias
		}
		own, _ := vals[name].(map[string]any)
		sv := coalesce(sub.Values, own)
		if g, ok := vals["global"].(map[string]any); ok {
			sg, _ := sv["global"].(map[string]any)
			sv["global"] = coalesce(sg, g)
		}
		if err := r.collect(sub, sv, path.Join(base, "charts", name), jobs); err != nil {
			return err
		}
	}
	return nil
}

// enabled reads a dependency condition: the first of its comma-separated
// value paths that holds a boolean decides; none means enabled.
func enabled(condition string, vals map[string]any) bool {
	for _, p := range strings.Split(condition, ",") {
		var v any = vals
		for _, seg := range strings.Split(strings.TrimSpace(p), ".") {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[seg]
		}
		if b, ok := v.(bool); ok {
			return b
		}
	}
	return true
}

// coalesce returns defaults overlaid with over, both left unchanged: maps
// merge key by key, any other value in over wins, and a null in over
// removes the default, as Helm's values do.
func coalesce(defaults, over map[string]any) map[string]any {
	out := make(map[string]any, len(defaults)+len(over))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range over {
		d, isMap := out[k].(map[string]any)
		o, overMap := v.(map[string]any)
		switch {
		case v == nil:
			delete(out, k)
		case isMap && overMap:
			out[k] = coalesce(d, o)
		default:
			out[k] = v
		}
	}
	return out
}

// capabilities is the .Capabilities a render sees: a recent Kubernetes
// that has every API version a chart asks about.
type capabilities struct {
	KubeVersion kubeVersion
	APIVersions apiVersions
	HelmVersion map[string]string
}

type kubeVersion struct{ Version, Major, Minor, GitVersion string }

// String is how a template prints .Capabilities.KubeVersion.
func (k kubeVersion) String() string { return k.Version }

type apiVersions []string

// Has answers true: the render check needs the chart's output, not the
// branch it takes for an older cluster.
func (apiVersions) Has(string) bool { return true }

var defaultCapabilities = capabilities{
	KubeVersion: kubeVersion{Version: "v1.33.0", Major: "1", Minor: "33", GitVersion: "v1.33.0"},
	APIVersions: apiVersions{"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "policy/v1", "autoscaling/v2"},
	HelmVersion: map[string]string{"Version": "v3.22.0"},
}

// chartFiles is .Files: the chart's files other than templates and
// Chart.yaml/values.yaml.
type chartFiles map[string][]byte

func chartFileMap(ch *chart.Chart) chartFiles {
	f := chartFiles{}
	for _, file := range ch.Files {
		f[file.Name] = file.Data
	}
	return f
}

// Get returns a file's content, or "".
func (f chartFiles) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content.
func (f chartFiles) GetBytes(name string) []byte { return f[name] }

// Lines returns a file's lines.
func (f chartFiles) Lines(name string) []string {
	if len(f[name]) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(f[name]), "\n"), "\n")
}

// Glob returns the files whose names match pattern.
func (f chartFiles) Glob(pattern string) chartFiles {
	out := chartFiles{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

// AsConfig returns the files as ConfigMap data, keyed by base name.
func (f chartFiles) AsConfig() string { return f.asData(func(b []byte) string { return string(b) }) }

// AsSecrets returns the files as Secret data, base64-encoded.
func (f chartFiles) AsSecrets() string {
	return f.asData(base64.StdEncoding.EncodeToString)
}

func (f chartFiles) asData(enc func([]byte) string) string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = enc(data)
	}
	out, _ := yaml.Marshal(m)
	return strings.TrimSuffix(string(out), "\n")
}

// funcs is sprig's function map without environment access, plus Helm's.
func (r *chartRenderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	helm := template.FuncMap{
		"toYaml":   toYAML,
		"fromYaml": fromYAML,
		"fromYamlArray": func(s string) []any {
			var out []any
			if err := yaml.Unmarshal([]byte(s), &out); err != nil {
				return []any{err.Error()}
			}
			return out
		},
		"toJson": func(v any) string { b, _ := json.Marshal(v); return string(b) },
		"fromJson": func(s string) map[string]any {
			out := map[string]any{}
			if err := json.Unmarshal([]byte(s), &out); err != nil {
				out["Error"] = err.Error()
			}
			return out
		},
		"include": r.include,
		"tpl":     r.tpl,
		"required": func(msg string, v any) (any, error) {
			if s, ok := v.(string); v == nil || ok && s == "" {
				return v, errors.New(msg)
			}
			return v, nil
		},
		"fail":          func(msg string) (string, error) { return "", errors.New(msg) },
		"lookup":        func(string, string, string, string) (map[string]any, error) { return map[string]any{}, nil },
		"getHostByName": func(string) string { return "" },
	}
	for k, v := range helm {
		f[k] = v
	}
	return f
}

func (r *chartRenderer) include(name string, data any) (string, error) {
	if r.depth++; r.depth > maxIncludeDepth {
		return "", fmt.Errorf("include %q: nested too deep", name)
	}
	defer func() { r.depth-- }()
	var b bytes.Buffer
	if err := r.t.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

func (r *chartRenderer) tpl(text string, data any) (string, error) {
	if r.depth++; r.depth > maxIncludeDepth {
		return "", errors.New("tpl: nested too deep")
	}
	defer func() { r.depth-- }()
	t, err := r.t.Clone()
	if err != nil {
		return "", err
	}
	if t, err = t.New("tpl").Parse(text); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

func toYAML(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

func fromYAML(s string) map[string]any {
	out := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &out); err != nil {
		out["Error"] = err.Error()
	}
	return out
}
