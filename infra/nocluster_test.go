package infra_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// DESIGN.md invariant 1: Conveyor never touches a cluster. Argo CD or Flux
// pulls what was merged; Conveyor only writes git. So no Kubernetes, Helm or
// EKS client may be in the module graph that go.mod declares, nor imported
// by any Go file of the repository.
//
// The rule, for a module path (go.mod) or an import path (Go files):
//
//   - k8s.io/... is forbidden, except k8s.io/apimachinery,
//     k8s.io/kube-openapi and k8s.io/utils: the kustomize libraries used to
//     edit manifests (sigs.k8s.io/kustomize/...) pull those in for object
//     metadata, OpenAPI schemas and helpers, and none of them holds a client
//     (the clients live in k8s.io/client-go, which is forbidden like every
//     other k8s.io module: k8s.io/api, k8s.io/kubectl, k8s.io/cli-runtime…).
//   - sigs.k8s.io/controller-runtime is forbidden; other sigs.k8s.io modules
//     (kustomize/kyaml, kustomize/api, yaml) are manifest libraries and allowed.
//   - helm.sh/helm (every major version) is forbidden: its action package
//     installs into clusters.
//   - The EKS API clients, github.com/aws/aws-sdk-go-v2/service/eks and the
//     v1 SDK's github.com/aws/aws-sdk-go/service/eks package, are forbidden.
//
// The rule applies whether go.mod marks a requirement "// indirect" or not:
// a module in the graph can be linked in, and the marker is only as good as
// the last `go mod tidy`. go.sum is not checked: it also lists modules that
// are only considered, never built.

// allowedK8s are the k8s.io modules the kustomize libraries need.
var allowedK8s = []string{"k8s.io/apimachinery", "k8s.io/kube-openapi", "k8s.io/utils"}

// forbidden are module (or package) path prefixes that are cluster clients.
var forbidden = []string{
	"sigs.k8s.io/controller-runtime",
	"helm.sh/helm",
	"github.com/aws/aws-sdk-go-v2/service/eks",
	"github.com/aws/aws-sdk-go/service/eks",
}

// clusterClient says why path, a module or import path, is a cluster
// client, or "" when it is not.
func clusterClient(path string) string {
	under := func(prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }
	if strings.HasPrefix(path, "k8s.io/") {
		for _, ok := range allowedK8s {
			if under(ok) {
				return ""
			}
		}
		return "a Kubernetes module other than " + strings.Join(allowedK8s, ", ")
	}
	for _, f := range forbidden {
		if under(f) {
			return "a cluster client (" + f + ")"
		}
	}
	return ""
}

// modPath is one module or package path named in go.mod.
type modPath struct {
	Verb string // require, replace, tool
	Path string
	Line int
}

// goModPaths reads every path go.mod requires, replaces (both sides) or
// declares as a tool, in single-line and block form. It is a deliberately
// small parser (golang.org/x/mod is not a dependency of this module): it
// strips comments, handles quoted paths and reports what it cannot read.
func goModPaths(data []byte) ([]modPath, error) {
	var out []modPath
	block := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		verb := block
		if block == "" {
			verb, f = f[0], f[1:]
			if len(f) == 1 && f[0] == "(" {
				block = verb
				continue
			}
		} else if f[0] == ")" {
			block = ""
			continue
		}
		var paths []string
		switch verb {
		case "require", "tool":
			if len(f) < 1 {
				return nil, fmt.Errorf("go.mod:%d: %s without a path", n, verb)
			}
			paths = f[:1]
		case "replace":
			arrow := -1
			for i, x := range f {
				if x == "=>" {
					arrow = i
				}
			}
			if arrow < 1 || arrow == len(f)-1 {
				return nil, fmt.Errorf("go.mod:%d: malformed replace", n)
			}
			paths = []string{f[0], f[arrow+1]}
		default: // module, go, toolchain, exclude, retract, godebug, ignore
			continue
		}
		for _, p := range paths {
			if strings.HasPrefix(p, `"`) || strings.HasPrefix(p, "`") {
				u, err := strconv.Unquote(p)
				if err != nil {
					return nil, fmt.Errorf("go.mod:%d: %v", n, err)
				}
				p = u
			}
			out = append(out, modPath{Verb: verb, Path: p, Line: n})
		}
	}
	if block != "" {
		return nil, fmt.Errorf("go.mod: unterminated %s block", block)
	}
	return out, sc.Err()
}

func TestNoClusterClientInGoMod(t *testing.T) {
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	paths, err := goModPaths(data)
	if err != nil {
		t.Fatal(err)
	}
	var requires int
	for _, p := range paths {
		if p.Verb == "require" {
			requires++
		}
		if why := clusterClient(p.Path); why != "" {
			t.Errorf("go.mod:%d: %s %s is %s; Conveyor never touches a cluster", p.Line, p.Verb, p.Path, why)
		}
	}
	if requires == 0 {
		t.Error("go.mod: no requirements read; is the parser broken?")
	}
}

func TestNoClusterClientImported(t *testing.T) {
	fset := token.NewFileSet()
	var files int
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != ".." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if why := clusterClient(p); why != "" {
				t.Errorf("%s imports %s, %s; Conveyor never touches a cluster", fset.Position(imp.Pos()), p, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Errorf("scanned only %d Go files; is the walk broken?", files)
	}
}

func TestClusterClientRule(t *testing.T) {
	tests := []struct {
		path      string
		forbidden bool
	}{
		{"k8s.io/client-go", true},
		{"k8s.io/client-go/kubernetes", true},
		{"k8s.io/kubectl", true},
		{"k8s.io/api", true},
		{"k8s.io/cli-runtime", true},
		{"sigs.k8s.io/controller-runtime", true},
		{"sigs.k8s.io/controller-runtime/pkg/client", true},
		{"helm.sh/helm/v3", true},
		{"helm.sh/helm/v3/pkg/action", true},
		{"github.com/aws/aws-sdk-go-v2/service/eks", true},
		{"github.com/aws/aws-sdk-go/service/eks", true},
		{"k8s.io/apimachinery", false},
		{"k8s.io/apimachinery/pkg/runtime/schema", false},
		{"k8s.io/kube-openapi", false},
		{"k8s.io/utils", false},
		{"k8s.io/utilsx", true},
		{"sigs.k8s.io/kustomize/kyaml", false},
		{"sigs.k8s.io/yaml", false},
		{"github.com/aws/aws-sdk-go-v2/service/ecr", false},
		{"github.com/aws/aws-sdk-go-v2/service/eksauth", false},
		{"github.com/google/go-containerregistry", false},
	}
	for _, tt := range tests {
		if got := clusterClient(tt.path) != ""; got != tt.forbidden {
			t.Errorf("clusterClient(%q) forbidden = %v, want %v", tt.path, got, tt.forbidden)
		}
	}
}

// TestGoModPaths feeds the parser every form go.mod allows, so that the
// real check cannot pass by reading nothing.
func TestGoModPaths(t *testing.T) {
	mod := []byte(`module example.com/m // comment

go 1.26.8

require k8s.io/client-go v0.35.0 // indirect
require (
	// a comment line
	sigs.k8s.io/kustomize/kyaml v0.21.2
	"helm.sh/helm/v3" v3.19.0
	k8s.io/apimachinery v0.35.0 // indirect
)
replace github.com/x/y => sigs.k8s.io/controller-runtime v0.22.0
replace (
	github.com/a/b v1.0.0 => ../b
)
exclude k8s.io/kubectl v0.1.0
tool k8s.io/code-generator/cmd/client-gen
`)
	paths, err := goModPaths(mod)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range paths {
		mark := " ok"
		if clusterClient(p.Path) != "" {
			mark = " FORBIDDEN"
		}
		got = append(got, fmt.Sprintf("%d %s %s%s", p.Line, p.Verb, p.Path, mark))
	}
	want := []string{
		"5 require k8s.io/client-go FORBIDDEN",
		"8 require sigs.k8s.io/kustomize/kyaml ok",
		"9 require helm.sh/helm/v3 FORBIDDEN",
		"10 require k8s.io/apimachinery ok",
		"12 replace github.com/x/y ok",
		"12 replace sigs.k8s.io/controller-runtime FORBIDDEN",
		"14 replace github.com/a/b ok",
		"14 replace ../b ok",
		"17 tool k8s.io/code-generator/cmd/client-gen FORBIDDEN",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("goModPaths (-want +got):\n%s", d)
	}
	for _, bad := range []string{"require (\n\tk8s.io/api v0.1.0\n", "replace a/b\n", "require \"unterminated v1\n"} {
		if _, err := goModPaths([]byte(bad)); err == nil {
			t.Errorf("goModPaths(%q) = nil error, want one", bad)
		}
	}
}
