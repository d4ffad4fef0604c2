package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart"
)

// TestRenderChart renders a chart with a vendored subchart: values come
// from the chart's defaults under the given ones (a null removes a
// default), the subchart sees its own section and the parent's globals,
// a false condition leaves it out, partials are included, not rendered,
// and lookup answers nothing (no cluster).
func TestRenderChart(t *testing.T) {
	sub := &chart.Chart{Metadata: &chart.Metadata{Name: "db", Version: "1.0.0"},
		Values:    map[string]any{"image": "db:1", "global": map[string]any{"env": "sub-default"}},
		Templates: []*chart.File{{Name: "templates/db.yaml", Data: []byte("image: {{ .Values.image }}\nenv: {{ .Values.global.env }}\n")}}}
	newChart := func() *chart.Chart {
		ch := &chart.Chart{Metadata: &chart.Metadata{Name: "app", Version: "0.1.0",
			Dependencies: []*chart.Dependency{{Name: "db", Condition: "db.enabled"}}},
			Values: map[string]any{"image": map[string]any{"repository": "r", "tag": "1"}, "extra": "x", "db": map[string]any{"enabled": true}},
			Templates: []*chart.File{
				{Name: "templates/_helpers.tpl", Data: []byte(`{{ define "app.image" }}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{ end }}`)},
				{Name: "templates/app.yaml", Data: []byte("image: {{ include \"app.image\" . }}\nextra: {{ .Values.extra }}\nfound: {{ len (lookup \"v1\" \"Secret\" \"ns\" \"s\") }}\nchart: {{ .Chart.Name }}\n")},
			}}
		ch.AddDependency(sub)
		return ch
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   map[string]string
	}{
		{"defaults and overrides", map[string]any{"image": map[string]any{"tag": "v2@sha256:x"}, "extra": nil, "global": map[string]any{"env": "prod"}, "db": map[string]any{"image": "db:2"}},
			map[string]string{"app/templates/app.yaml": "image: r:v2@sha256:x\nextra: \nfound: 0\nchart: app\n", "app/charts/db/templates/db.yaml": "image: db:2\nenv: prod\n"}},
		{"condition false", map[string]any{"db": map[string]any{"enabled": false}},
			map[string]string{"app/templates/app.yaml": "image: r:1\nextra: x\nfound: 0\nchart: app\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderChart(newChart(), tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("renderChart (-want +got):\n%s", diff)
			}
		})
	}
}
