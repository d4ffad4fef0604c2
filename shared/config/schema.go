package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

//go:generate go test -run TestSchemaFile -update .

// schemaKeys are the keys the decoder accepts for each struct type it
// fills: the same lists it checks a file against, so the schema is drawn
// from what the decoder does.
var schemaKeys = map[reflect.Type][]string{
	reflect.TypeFor[Config]():      configKeys,
	reflect.TypeFor[GitOps]():      gitopsKeys,
	reflect.TypeFor[Author]():      authorKeys,
	reflect.TypeFor[App]():         appKeys,
	reflect.TypeFor[Source]():      sourceKeys,
	reflect.TypeFor[TagPolicy]():   tagsKeys,
	reflect.TypeFor[Build]():       buildKeys,
	reflect.TypeFor[File]():        fileKeys,
	reflect.TypeFor[Environment](): envKeys,
	reflect.TypeFor[EnvImage]():    envImgKeys,
	reflect.TypeFor[Helm]():        helmKeys,
	reflect.TypeFor[Freeze]():      freezeKeys,
	reflect.TypeFor[Template]():    templateKeys,
	reflect.TypeFor[Defaults]():    defaultsKeys,
	reflect.TypeFor[Require]():     requireKeys,
	reflect.TypeFor[Notify]():      notifyKeys,
	reflect.TypeFor[Discover]():    discoverKeys,
}

// notInFile are the fields Parse sets itself rather than reads.
var notInFile = map[string]bool{"Pos": true, "Config.File": true, "Config.Index": true}

// schemaEnums are the values of the string types with fixed values.
var schemaEnums = map[reflect.Type][]string{
	reflect.TypeFor[Strategy]():    {string(StrategyKustomize), string(StrategyHelm), string(StrategyRaw), string(StrategyMarker)},
	reflect.TypeFor[Release]():     {string(ReleaseAuto), string(ReleaseManual)},
	reflect.TypeFor[MergeMethod](): {string(MergeMerge), string(MergeSquash), string(MergeRebase)},
}

// schemaRequired are the keys validate requires of each type.
var schemaRequired = map[reflect.Type][]string{
	reflect.TypeFor[Config]():      {"version"}, // and apps, discover or both: see object
	reflect.TypeFor[App]():         {"name", "source", "image"},
	reflect.TypeFor[Source]():      {"repo"},
	reflect.TypeFor[Environment](): {"name"},
	reflect.TypeFor[File]():        {"src", "dst"},
	reflect.TypeFor[Freeze]():      {"cron", "duration"},
	reflect.TypeFor[EnvImage]():    {"name"},
	reflect.TypeFor[Template]():    {"name", "environments"},
	reflect.TypeFor[Discover]():    {"pattern", "image", "source"},
}

// durationPattern is what time.ParseDuration accepts, unsigned.
const durationPattern = `^(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+$`

// Schema returns the JSON Schema (draft 2020-12) of conveyor.yaml, drawn by
// reflection from the types Parse fills and the keys its decoder accepts.
// It fails when the two disagree: a field with no key, or a key with no
// field.
func Schema() ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	root, err := g.object(reflect.TypeFor[Config]())
	if err != nil {
		return nil, err
	}
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaURL
	root["title"] = "conveyor.yaml"
	root["description"] = "Conveyor's pipeline: apps, the image each publishes, and the environments it is promoted through."
	root["$defs"] = g.defs
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding the schema: %w", err)
	}
	return b.Bytes(), nil
}

type schemaGen struct {
	defs map[string]any
}

// object describes a struct type: one property per key the decoder
// accepts, each typed by the struct field of the same name.
func (g *schemaGen) object(t reflect.Type) (map[string]any, error) {
	keys, ok := schemaKeys[t]
	if !ok {
		return nil, fmt.Errorf("schema: the decoder has no key list for %s", t.Name())
	}
	byKey := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if notInFile[f.Name] || notInFile[t.Name()+"."+f.Name] {
			continue
		}
		k := keyOf(keys, f.Name)
		if k == "" {
			return nil, fmt.Errorf("schema: field %s.%s has no key the decoder accepts", t.Name(), f.Name)
		}
		byKey[k] = f
	}
	props := map[string]any{}
	for _, k := range keys {
		f, ok := byKey[k]
		if !ok {
			return nil, fmt.Errorf("schema: key %q of %s has no field", k, t.Name())
		}
		s, err := g.value(f.Type)
		if err != nil {
			return nil, err
		}
		props[k] = s
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if req := schemaRequired[t]; len(req) > 0 {
		o["required"] = req
	}
	if t == reflect.TypeFor[Config]() {
		// Apps may all be discovered, but a file needs one or the other.
		o["anyOf"] = []any{map[string]any{"required": []string{"apps"}}, map[string]any{"required": []string{"discover"}}}
	}
	return o, nil
}

// keyOf finds the key naming a field: the same word, first letter
// lowered (GitOps is "gitops").
func keyOf(keys []string, field string) string {
	for _, k := range keys {
		if strings.EqualFold(k, field) {
			return k
		}
	}
	return ""
}

// scalar is what the decoder takes as a string: numbers and booleans are
// read as written.
var scalar = []string{"string", "number", "boolean", "null"}

func (g *schemaGen) value(t reflect.Type) (map[string]any, error) {
	if vals, ok := schemaEnums[t]; ok {
		return map[string]any{"enum": vals}, nil
	}
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return map[string]any{"type": []string{"string", "integer"}, "pattern": durationPattern, "description": `a Go duration such as "90m" or "64h"`}, nil
	case t.Kind() == reflect.String:
		return map[string]any{"type": scalar}, nil
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": []string{"boolean", "null"}}, nil
	case t.Kind() == reflect.Int:
		return map[string]any{"type": []string{"integer", "null"}}, nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": map[string]any{"type": scalar}}, nil
	case t.Kind() == reflect.Slice:
		items, err := g.value(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": []string{"array", "null"}, "items": items}, nil
	case t.Kind() == reflect.Struct:
		name := t.Name()
		if _, done := g.defs[name]; !done {
			g.defs[name] = nil // a placeholder against recursion
			o, err := g.object(t)
			if err != nil {
				return nil, err
			}
			g.defs[name] = o
		}
		return map[string]any{"$ref": "#/$defs/" + name}, nil
	}
	return nil, fmt.Errorf("schema: no JSON type for %s", t)
}
