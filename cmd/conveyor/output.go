package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// The formats of -o: the human table, or data for scripts.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// outputFormat is the value of -o, checked when parsed so that a wrong
// one is a usage error.
type outputFormat string

func (f *outputFormat) String() string { return string(*f) }

// Type names the value in help.
func (f *outputFormat) Type() string { return "table|json|yaml" }

// Set accepts table, json or yaml.
func (f *outputFormat) Set(s string) error {
	switch s {
	case formatTable, formatJSON, formatYAML:
		*f = outputFormat(s)
		return nil
	}
	return fmt.Errorf("%q is not table, json or yaml", s)
}

// outputFlag is -o/--output of a command that prints data, with --json
// kept as a deprecated alias of -o json.
type outputFlag struct {
	format outputFormat
	json   *bool
	fs     *pflag.FlagSet
}

func addOutputFlag(fs *pflag.FlagSet) *outputFlag {
	o := &outputFlag{format: formatTable, fs: fs}
	fs.VarP(&o.format, "output", "o", "output format: table, or json or yaml (camelCase fields) for scripts")
	o.json = fs.Bool("json", false, "deprecated: use -o json")
	return o
}

// resolve folds the deprecated --json into the format, saying so on
// stderr, and refuses it beside another -o.
func (o *outputFlag) resolve(stderr io.Writer) error {
	if !*o.json {
		return nil
	}
	if o.fs.Changed("output") && o.format != formatJSON {
		return fmt.Errorf("%w: --json and -o %s disagree (--json is -o json)", errUsage, o.format)
	}
	fmt.Fprintln(stderr, "conveyor: --json is deprecated: use -o json")
	o.format = formatJSON
	return nil
}

// table says whether the human table is asked for.
func (o *outputFlag) table() bool { return o.format == formatTable }

// write prints v as the format asks.
func (o *outputFlag) write(w io.Writer, v any) error {
	return writeData(w, string(o.format), v)
}

// writeData prints v as indented JSON or as YAML, every object key the
// camelCase of its field's JSON name, whichever casing the Go type's
// tags use: one casing across every command's output.
func writeData(w io.Writer, format string, v any) error {
	p, err := plain(reflect.ValueOf(v))
	if err != nil {
		return err
	}
	if format == formatYAML {
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(yamlNode(p)); err != nil {
			return fmt.Errorf("writing YAML: %w", err)
		}
		return enc.Close()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// ordered is a JSON object whose keys keep the order of the struct's
// fields.
type ordered []member

type member struct {
	key   string
	value any
}

// MarshalJSON writes the members in order.
func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// plain turns v into objects, slices and scalars as encoding/json would
// see it (tags, omitempty, omitzero, "-"), with camelCase keys for
// struct fields; map keys are data and stay as they are.
func plain(v reflect.Value) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	t := v.Type()
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return nil, nil
		}
		// The type's own encoding (a time, a raw payload) is its data.
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return nil, err
		}
		var x any
		if err := json.Unmarshal(b, &x); err != nil {
			return nil, err
		}
		return x, nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return plain(v.Elem())
	case reflect.Struct:
		return plainStruct(v)
	case reflect.Map:
		if v.IsNil() {
			return nil, nil
		}
		keys := v.MapKeys()
		o := make(ordered, 0, len(keys))
		for _, k := range keys {
			x, err := plain(v.MapIndex(k))
			if err != nil {
				return nil, err
			}
			o = append(o, member{fmt.Sprint(k.Interface()), x})
		}
		sort.Slice(o, func(i, j int) bool { return o[i].key < o[j].key })
		return o, nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return v.Interface(), nil // base64, as encoding/json writes bytes
		}
		out := make([]any, v.Len())
		for i := range out {
			x, err := plain(v.Index(i))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	return v.Interface(), nil
}

func plainStruct(v reflect.Value) (ordered, error) {
	var o ordered
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		if f.Anonymous && name == "" && fv.Kind() == reflect.Struct {
			// An embedded struct's fields are the outer object's.
			inner, err := plainStruct(fv)
			if err != nil {
				return nil, err
			}
			o = append(o, inner...)
			continue
		}
		if omitted(fv, opts) {
			continue
		}
		if name == "" {
			name = f.Name
		}
		x, err := plain(fv)
		if err != nil {
			return nil, err
		}
		o = append(o, member{camelCase(name), x})
	}
	return o, nil
}

func omitted(v reflect.Value, opts string) bool {
	for opt := range strings.SplitSeq(opts, ",") {
		switch opt {
		case "omitzero":
			if v.IsZero() {
				return true
			}
			if z, ok := v.Interface().(interface{ IsZero() bool }); ok && z.IsZero() {
				return true
			}
		case "omitempty":
			switch v.Kind() {
			case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
				if v.Len() == 0 {
					return true
				}
			case reflect.Pointer, reflect.Interface:
				if v.IsNil() {
					return true
				}
			case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
				if v.IsZero() {
					return true
				}
			}
		}
	}
	return false
}

// camelCase is a field name in lower camel case, from snake_case
// ("recorded_digest" → recordedDigest) or a Go name ("HeadSHA" → headSha,
// "URL" → url): the same words give the same key whichever way a type
// was tagged.
func camelCase(name string) string {
	var b strings.Builder
	for i, w := range words(name) {
		w = strings.ToLower(w)
		if i > 0 && w != "" {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// words splits a name at underscores and at case changes, keeping an
// initialism whole ("PRURL" stays one word; "HeadSHA" is Head, SHA).
func words(name string) []string {
	var out []string
	for part := range strings.SplitSeq(name, "_") {
		r := []rune(part)
		start := 0
		for i := 1; i < len(r); i++ {
			lowerToUpper := unicode.IsLower(r[i-1]) && unicode.IsUpper(r[i])
			// "SHAValue": the last capital of an initialism starts a word.
			acronymEnd := unicode.IsUpper(r[i-1]) && unicode.IsUpper(r[i]) && i+1 < len(r) && unicode.IsLower(r[i+1])
			if lowerToUpper || acronymEnd {
				out = append(out, string(r[start:i]))
				start = i
			}
		}
		if start < len(r) {
			out = append(out, string(r[start:]))
		}
	}
	return out
}

// yamlNode is p as a YAML node, objects keeping their order.
func yamlNode(p any) *yaml.Node {
	switch p := p.(type) {
	case ordered:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, m := range p {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: m.key}, yamlNode(m.value))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, x := range p {
			n.Content = append(n.Content, yamlNode(x))
		}
		return n
	case map[string]any:
		keys := make([]string, 0, len(p))
		for k := range p {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := make(ordered, 0, len(keys))
		for _, k := range keys {
			o = append(o, member{k, p[k]})
		}
		return yamlNode(o)
	}
	var n yaml.Node
	if err := n.Encode(p); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(p)}
	}
	return &n
}
