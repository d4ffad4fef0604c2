package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/conveyor-gitops/conveyor/shared/demo"
)

func TestCamelCase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"recorded_digest", "recordedDigest"},
		{"proposed_approved_by", "proposedApprovedBy"},
		{"inflight", "inflight"},
		{"HeadSHA", "headSha"},
		{"head_sha", "headSha"},
		{"URL", "url"},
		{"MergeCommit", "mergeCommit"},
		{"PRState", "prState"},
		{"Number", "number"},
	} {
		if got := camelCase(tc.in); got != tc.want {
			t.Errorf("camelCase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWriteDataFollowsJSONTags: the camelCase output honours what the
// tags say (omitempty, omitzero, "-"), keeps the fields' order and leaves
// map keys, which are data, alone.
func TestWriteDataFollowsJSONTags(t *testing.T) {
	type inner struct {
		TraceID string `json:"trace_id"`
	}
	v := struct {
		Zeta    string            `json:"zeta_field"`
		Alpha   int               `json:"alpha,omitempty"`
		Hidden  string            `json:"-"`
		Labels  map[string]string `json:"labels"`
		HeadSHA string
		Inner   inner `json:"inner_value"`
		Empty   []string
	}{Zeta: "z", Hidden: "h", Labels: map[string]string{"b_key": "1", "a_key": "2"}, HeadSHA: "abc", Inner: inner{"t"}}
	for _, tc := range []struct{ format, want string }{
		{formatJSON, `{
  "zetaField": "z",
  "labels": {
    "a_key": "2",
    "b_key": "1"
  },
  "headSha": "abc",
  "innerValue": {
    "traceId": "t"
  },
  "empty": null
}
`},
		{formatYAML, `zetaField: z
labels:
  a_key: "2"
  b_key: "1"
headSha: abc
innerValue:
  traceId: t
empty: null
`},
	} {
		var b bytes.Buffer
		if err := writeData(&b, tc.format, v); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.format, diff)
		}
	}
}

// demoData runs the demo for a test that reads its records: three
// releases of web, dev to prod, and their merged pull requests.
func demoData(t *testing.T) *demo.Result {
	t.Helper()
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), &out, demo.Options{Dir: t.TempDir(), All: true})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	return res
}

var camelKey = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// keys collects every object key in a JSON document, with its path.
func keys(path string, v any, into map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			into[path+"."+k] = k
			keys(path+"."+k, x, into)
		}
	case []any:
		for _, x := range v {
			keys(path+"[]", x, into)
		}
	}
}

// TestDataOutput runs the commands that print data with -o json and -o
// yaml: the same document either way, every key camelCase, --json the
// deprecated spelling of -o json.
func TestDataOutput(t *testing.T) {
	res := demoData(t)
	data := []string{"--data-dir", res.DataDir}
	for _, tc := range []struct {
		name string
		args []string
		// want are keys that must be present, by path.
		want []string
	}{
		{"status", []string{"status"}, []string{"[].app", "[].env", "[].digest", "[].sourceCommit", "[].releasedAt", "[].mergedBy", "[].frozen", "[].release"}},
		{"history", []string{"history", "web"}, []string{"[].digest", "[].sourceCommit", "[].steps", "[].steps[].mergedBy", "[].steps[].releaseId"}},
		{"metrics", []string{"metrics"}, []string{".deployments", ".deploymentsPerDay", ".leadTimeSeconds", ".changeFailureRate"}},
		{"queues", []string{"queues"}, []string{".builds", ".builds.visible", ".builds.inflight", ".builds.dead"}},
		{"pr list", []string{"pr", "list"}, []string{"[].number", "[].title", "[].branch", "[].headSha", "[].state", "[].mergedBy"}},
		{"pr show", []string{"pr", "show", "1"}, []string{".number", ".base", ".mergeCommit", ".labels"}},
		{"replay list", []string{"replay", "list"}, nil},
		{"version", []string{"version"}, []string{".version", ".revision", ".go", ".platform"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, tc.args...), data...)
			if tc.name == "version" {
				args = tc.args
			}
			var docs []any
			for _, format := range []string{"json", "yaml"} {
				code, out, errOut := runCLI(t, append(args, "-o", format)...)
				if code != 0 {
					t.Fatalf("-o %s: exit %d: %s", format, code, errOut)
				}
				var doc any
				var err error
				if format == "json" {
					err = json.Unmarshal([]byte(out), &doc)
				} else {
					err = yaml.Unmarshal([]byte(out), &doc)
				}
				if err != nil {
					t.Fatalf("-o %s printed what does not parse: %v\n%s", format, err, out)
				}
				docs = append(docs, doc)
			}
			// YAML and JSON say the same (YAML has no time type in a
			// plain decode, and both decode numbers as they look).
			jsonKeys, yamlKeys := map[string]string{}, map[string]string{}
			keys("", docs[0], jsonKeys)
			keys("", docs[1], yamlKeys)
			if diff := cmp.Diff(jsonKeys, yamlKeys); diff != "" {
				t.Errorf("json vs yaml keys (-json +yaml):\n%s", diff)
			}
			var paths []string
			for p, k := range jsonKeys {
				paths = append(paths, p)
				if !camelKey.MatchString(k) {
					t.Errorf("key %s (%q) is not camelCase", p, k)
				}
			}
			sort.Strings(paths)
			for _, w := range tc.want {
				if _, ok := jsonKeys[w]; !ok {
					t.Errorf("no key %s; keys: %v", w, paths)
				}
			}
			// The deprecated --json prints the same document, and says so.
			code, alias, errOut := runCLI(t, append(args, "--json")...)
			var doc any
			aliasKeys := map[string]string{}
			if err := json.Unmarshal([]byte(alias), &doc); err == nil {
				keys("", doc, aliasKeys)
			}
			if code != 0 || !cmp.Equal(jsonKeys, aliasKeys) || !strings.Contains(errOut, "--json is deprecated: use -o json") {
				t.Errorf("--json: exit %d, stderr %q, printed:\n%s", code, errOut, alias)
			}
		})
	}
}

func TestOutputFlagMistakes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown format", []string{"version", "-o", "xml"}, `"xml" is not table, json or yaml`},
		{"json and yaml", []string{"version", "--json", "-o", "yaml"}, "--json and -o yaml disagree"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tc.stderr)
			}
		})
	}
}
