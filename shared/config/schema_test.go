package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite conveyor.schema.json from the types")

const schemaFile = "conveyor.schema.json"

// TestSchemaFile fails when conveyor.schema.json and the types the decoder
// fills drift apart: regenerate it with go generate ./shared/config.
func TestSchemaFile(t *testing.T) {
	want, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s is stale: run go generate ./shared/config", schemaFile)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaURL)
	if err != nil {
		t.Fatalf("compiling the schema: %v", err)
	}
	return s
}

// asJSON reads YAML as the JSON value a schema validator sees.
func asJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaAcceptsWhatParseAccepts(t *testing.T) {
	s := compileSchema(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test configs: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data); err != nil {
			t.Fatalf("%s does not parse: %v", f, err)
		}
		if err := s.Validate(asJSON(t, data)); err != nil {
			t.Errorf("the schema rejects %s, which Parse accepts: %v", f, err)
		}
	}
}

func TestSchemaRejectsBrokenFiles(t *testing.T) {
	s := compileSchema(t)
	const app = "version: 1\napps:\n  - name: web\n    source: {repo: acme/web}\n    image: acme/web\n    environments:\n"
	tests := []struct{ name, yaml, want string }{
		{"unknown key", app + "      - {name: dev, path: d, release: auto, relase: auto}\n", "relase"},
		{"unknown strategy", app + "      - {name: dev, path: d, release: auto, strategy: kustomise}\n", "strategy"},
		{"wrong type", app + "      - {name: dev, path: d, release: auto, approvals: many}\n", "approvals"},
		{"bad duration", app + "      - {name: dev, path: d, release: auto, settle: soon}\n", "settle"},
		{"missing image", "version: 1\napps:\n  - name: web\n    source: {repo: acme/web}\n    environments: [{name: dev, path: d, release: auto}]\n", "image"},
		{"neither apps nor discover", "version: 1\n", "apps"},
		{"discover without a pattern", "version: 1\ntemplates: [{name: t, environments: [{name: dev, path: d, release: auto}]}]\ndiscover:\n  - {template: t, image: acme/x, source: {repo: acme/x}}\n", "pattern"},
		{"discover with an unknown key", "version: 1\ntemplates: [{name: t, environments: [{name: dev, path: d, release: auto}]}]\ndiscover:\n  - {pattern: \"a/{app}\", template: t, image: acme/x, source: {repo: acme/x}, apps: []}\n", "apps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("conveyor.yaml", []byte(tt.yaml)); err == nil {
				t.Fatalf("Parse accepts the broken file:\n%s", tt.yaml)
			}
			err := s.Validate(asJSON(t, []byte(tt.yaml)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("schema validation = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestSchemaNamesDrift shows Schema refusing types and key lists that
// disagree, the drift a new field or key would bring.
func TestSchemaNamesDrift(t *testing.T) {
	envType := reflect.TypeFor[Environment]()
	saved := schemaKeys[envType]
	t.Cleanup(func() { schemaKeys[envType] = saved })
	tests := []struct {
		name string
		keys []string
		want string
	}{
		{"a field the decoder does not read", saved[:len(saved)-1], "field Environment." + strings.ToUpper(saved[len(saved)-1][:1]) + saved[len(saved)-1][1:] + " has no key"},
		{"a key with no field", append(append([]string(nil), saved...), "timeout"), `key "timeout" of Environment has no field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schemaKeys[envType] = tt.keys
			_, err := Schema()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Schema() = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
