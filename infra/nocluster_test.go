package infra_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// DESIGN.md invariant 1: Conveyor never touches a cluster. Argo CD or Flux
// pulls what was merged; Conveyor only writes git. The promoter renders a
// Helm chart before proposing it, with Helm's chart loader (helm.sh/helm/v3
// is in the graph) and its own template rendering, not Helm's engine,
// which links client-go for lookup. What the tests prove is that no code
// path can build a cluster client:
//
//   - go.mod holds no module whose purpose is a cluster client or an
//     installer: k8s.io/... only for the modules the kustomize libraries
//     need (allowedK8s; not k8s.io/client-go, k8s.io/api, k8s.io/kubectl…),
//     no sigs.k8s.io/controller-runtime, no EKS API client, and
//     helm.sh/helm only as v3.
//   - No Go file of the repository imports a Kubernetes client or API
//     package or a Helm package other than the chart and its loader
//     (allowedHelm: not engine, chartutil, action, kube, registry…), and
//     none dot-imports Helm or k8s.io.
//   - No Go file names a Helm function that gives a template engine a
//     client (engine.New, RenderWithClient, RenderWithClientProvider, a
//     ClientProvider), found by walking the AST of every file of every
//     package of the module, tests included.
//   - At build time, infra/lambdazip refuses a Lambda bootstrap that links
//     any function of client-go's rest, dynamic, discovery, kubernetes or
//     clientcmd packages other than their initialisers.
//
// The go.mod rule applies whether a requirement is "// indirect" or not.
// go.sum is not checked: it also lists modules that are only considered.

// allowedK8s are the k8s.io modules the kustomize libraries need.
var allowedK8s = []string{"k8s.io/apimachinery", "k8s.io/kube-openapi", "k8s.io/utils"}

// allowedHelm are the Helm packages Go files may import: a chart and its
// loader, which read files and nothing else.
var allowedHelm = []string{"helm.sh/helm/v3/pkg/chart", "helm.sh/helm/v3/pkg/chart/loader"}

// forbidden are module (or package) path prefixes that are cluster clients.
var forbidden = []string{
	"sigs.k8s.io/controller-runtime",
	"github.com/aws/aws-sdk-go-v2/service/eks",
	"github.com/aws/aws-sdk-go/service/eks",
}

// clientSelectors are the identifiers of Helm's engine package that bring
// a cluster client in.
var clientSelectors = map[string]bool{"New": true, "RenderWithClient": true, "RenderWithClientProvider": true, "ClientProvider": true}

const helmEngine = "helm.sh/helm/v3/pkg/engine"

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// clusterClient says why path, a module path in go.mod, is a cluster
// client, or "" when it is not.
func clusterClient(path string) string {
	if strings.HasPrefix(path, "k8s.io/") {
		for _, ok := range allowedK8s {
			if under(path, ok) {
				return ""
			}
		}
		return "a Kubernetes module other than " + strings.Join(allowedK8s, ", ")
	}
	if strings.HasPrefix(path, "helm.sh/") && !under(path, "helm.sh/helm/v3") {
		return "a Helm module other than helm.sh/helm/v3"
	}
	for _, f := range forbidden {
		if under(path, f) {
			return "a cluster client (" + f + ")"
		}
	}
	return ""
}

// clusterImport says why a Go file may not import path, or "".
func clusterImport(path string) string {
	switch {
	case under(path, "k8s.io/client-go"), under(path, "k8s.io/api"), under(path, "k8s.io/apiextensions-apiserver"):
		return "a Kubernetes client or API package"
	case strings.HasPrefix(path, "helm.sh/"):
		for _, ok := range allowedHelm {
			if path == ok {
				return ""
			}
		}
		return "a Helm package other than " + strings.Join(allowedHelm, ", ")
	}
	return clusterClient(path)
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
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, p := range clusterUses(f) {
			t.Errorf("%s: %s; Conveyor never touches a cluster", fset.Position(p.pos), p.why)
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

// use is one forbidden import or identifier in a Go file.
type use struct {
	pos token.Pos
	why string
}

// clusterUses returns the forbidden imports of f and every reference to
// an identifier of Helm's engine that brings a cluster client in, through
// the engine's import name or as a method (Engine values).
func clusterUses(f *ast.File) []use {
	var out []use
	engineName := ""
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if why := clusterImport(p); why != "" {
			out = append(out, use{imp.Pos(), fmt.Sprintf("imports %s, %s", p, why)})
		}
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		if name == "." && (strings.HasPrefix(p, "helm.sh/") || strings.HasPrefix(p, "k8s.io/")) {
			out = append(out, use{imp.Pos(), "dot-imports " + p + ", which would hide what it calls"})
		}
		if p == helmEngine {
			engineName = name
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || !clientSelectors[sel.Sel.Name] {
			return true
		}
		x, isIdent := sel.X.(*ast.Ident)
		switch {
		case isIdent && engineName != "" && x.Name == engineName:
			out = append(out, use{sel.Pos(), "uses " + helmEngine + "." + sel.Sel.Name + ", which gives the engine a cluster client"})
		case sel.Sel.Name == "RenderWithClient" || sel.Sel.Name == "RenderWithClientProvider":
			out = append(out, use{sel.Pos(), "calls " + sel.Sel.Name + ", which renders with a cluster client"})
		}
		return true
	})
	return out
}

// TestClusterUses feeds the AST check the ways a file could reach a
// client, so the real check cannot pass by finding nothing.
func TestClusterUses(t *testing.T) {
	src := `package p

import (
	"fmt"
	eng "helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/action"
	"k8s.io/client-go/rest"
	. "helm.sh/helm/v3/pkg/chart"
)

func f(c *rest.Config) {
	eng.Render(nil, nil)           // allowed
	_ = eng.New(c)                 // forbidden
	eng.RenderWithClient(nil, nil, c)
	var e eng.Engine
	e.RenderWithClientProvider(nil, nil, nil)
	var p eng.ClientProvider
	fmt.Println(p, action.Configuration{})
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range clusterUses(f) {
		got = append(got, fmt.Sprintf("%d: %s", fset.Position(u.pos).Line, u.why))
	}
	want := []string{
		"5: imports helm.sh/helm/v3/pkg/engine, a Helm package other than " + strings.Join(allowedHelm, ", "),
		"6: imports helm.sh/helm/v3/pkg/action, a Helm package other than " + strings.Join(allowedHelm, ", "),
		"7: imports k8s.io/client-go/rest, a Kubernetes client or API package",
		"8: dot-imports helm.sh/helm/v3/pkg/chart, which would hide what it calls",
		"13: uses helm.sh/helm/v3/pkg/engine.New, which gives the engine a cluster client",
		"14: uses helm.sh/helm/v3/pkg/engine.RenderWithClient, which gives the engine a cluster client",
		"16: calls RenderWithClientProvider, which renders with a cluster client",
		"17: uses helm.sh/helm/v3/pkg/engine.ClientProvider, which gives the engine a cluster client",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("clusterUses (-want +got):\n%s", d)
	}
}

func TestClusterClientRule(t *testing.T) {
	tests := []struct {
		path        string
		module, imp bool // forbidden in go.mod, forbidden as an import
	}{
		{"k8s.io/client-go", true, true},
		{"k8s.io/client-go/kubernetes", true, true},
		{"k8s.io/client-go/rest", true, true},
		{"k8s.io/api", true, true},
		{"k8s.io/api/core/v1", true, true},
		{"k8s.io/kubectl", true, true},
		{"k8s.io/cli-runtime", true, true},
		{"sigs.k8s.io/controller-runtime", true, true},
		{"sigs.k8s.io/controller-runtime/pkg/client", true, true},
		{"helm.sh/helm/v3", false, true},
		{"helm.sh/helm/v3/pkg/engine", false, true},
		{"helm.sh/helm/v3/pkg/chartutil", false, true},
		{"helm.sh/helm/v3/pkg/chart", false, false},
		{"helm.sh/helm/v3/pkg/chart/loader", false, false},
		{"helm.sh/helm/v3/pkg/action", false, true},
		{"helm.sh/helm/v3/pkg/kube", false, true},
		{"helm.sh/helm/v4", true, true},
		{"github.com/aws/aws-sdk-go-v2/service/eks", true, true},
		{"github.com/aws/aws-sdk-go/service/eks", true, true},
		{"k8s.io/apimachinery", false, false},
		{"k8s.io/apimachinery/pkg/runtime/schema", false, false},
		{"k8s.io/kube-openapi", false, false},
		{"k8s.io/utils", false, false},
		{"k8s.io/utilsx", true, true},
		{"sigs.k8s.io/kustomize/kyaml", false, false},
		{"sigs.k8s.io/yaml", false, false},
		{"github.com/aws/aws-sdk-go-v2/service/ecr", false, false},
		{"github.com/aws/aws-sdk-go-v2/service/eksauth", false, false},
		{"github.com/google/go-containerregistry", false, false},
	}
	for _, tt := range tests {
		if got := clusterClient(tt.path) != ""; got != tt.module {
			t.Errorf("clusterClient(%q) forbidden = %v, want %v", tt.path, got, tt.module)
		}
		if got := clusterImport(tt.path) != ""; got != tt.imp {
			t.Errorf("clusterImport(%q) forbidden = %v, want %v", tt.path, got, tt.imp)
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
		"9 require helm.sh/helm/v3 ok",
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
