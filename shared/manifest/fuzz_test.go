package manifest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// fuzzTarget picks the target for a fuzzed input: the parity of its length
// switches between two variants, so both are explored.
type fuzzTarget func(data []byte) (file string, t Target)

func FuzzEditKustomize(f *testing.F) {
	fuzzEdit(f, []string{
		"images:\n- name: web\n  newTag: v1\n",
		"images:\n  - newTag: v1 # c\n    name: ghcr.io/acme/web\n    digest: 'sha256:x'\n",
		"images:\n- {name: web, newTag: v1}\n",
		"resources: [a]\n",
		"images:\n- newName: web\n- name: x\n  newName: ghcr.io/acme/web\n",
	}, func(data []byte) (string, Target) {
		if len(data)%2 == 0 {
			return "kustomization.yaml", Target{Repository: "web"}
		}
		return "kustomization.yaml", Target{KeepTag: true}
	}, func(t *testing.T, root *yaml.Node, tg Target) {
		match := tg.Repository
		if match == "" {
			match = webRef.Repository
		}
		n := 0
		for _, e := range child(root, "images").Content {
			name, nn := child(e, "name"), child(e, "newName")
			if sameRepository(name.Value, match) || sameRepository(nn.Value, match) {
				n++
				if d := child(e, "digest").Value; d != webRef.Digest {
					t.Errorf("images[name=%s].digest = %q", match, d)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d images entries match %s", n, match)
		}
	})
}

func FuzzEditHelm(f *testing.F) {
	fuzzEdit(f, []string{
		"image:\n  repository: x\n  tag: v1\n",
		"app:\n  image: \"x:v1\"\n",
		"image: {repository: x, digest: ''}\n",
		"a: &a {b: 1}\nimage:\n  <<: *a\n  repository: 'x'\n",
	}, func(data []byte) (string, Target) {
		if len(data)%2 == 0 {
			return "values.yaml", Target{HelmRepository: "image.repository", HelmDigest: "image.digest"}
		}
		return "values.yaml", Target{HelmImage: "app.image", KeepTag: true}
	}, func(t *testing.T, root *yaml.Node, tg Target) {
		want := map[string]string{"image.repository": webRef.Repository, "image.digest": webRef.Digest}
		if tg.HelmImage != "" {
			want = map[string]string{tg.HelmImage: webRef.Image(true)}
		}
		for p, v := range want {
			n := root
			for _, seg := range strings.Split(p, ".") {
				n = child(n, seg)
			}
			if n.Value != v {
				t.Errorf("%s = %q, want %q", p, n.Value, v)
			}
		}
	})
}

func FuzzEditRaw(f *testing.F) {
	fuzzEdit(f, []string{
		"kind: Pod\nspec:\n  containers:\n  - name: web\n    image: x\n",
		"kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{name: web, image: 'a'}]\n",
		"---\nkind: Deployment\r\nspec:\r\n  template:\r\n    spec:\r\n      containers:\r\n      - {image: \"x\", name: web}\r\n",
	}, func(data []byte) (string, Target) {
		return "deploy.yaml", Target{App: "web", KeepTag: len(data)%2 == 0}
	}, nil)
}

func FuzzEditMarker(f *testing.F) {
	fuzzEdit(f, []string{
		"image: x:v1 # conveyor:image web\n",
		"- 'a/b@sha256:0'\t#conveyor:image web\r\nd: \"\" # conveyor:image web:digest\r\n",
		"tag: v1 # conveyor:image web:tag\nr: x # conveyor:image web:repository\ndigest: y # conveyor:image web:digest",
	}, func(data []byte) (string, Target) {
		return "values.yaml", Target{Strategy: StrategyMarker, App: "web", KeepTag: len(data)%2 == 0}
	}, nil)
}

// fuzzEdit checks, for any input, that Edit does not panic and that a
// successful edit changes only the lines of its changes, reports each new
// value on the line it reports, and (with check) reads back as set.
func fuzzEdit(f *testing.F, seeds []string, pick fuzzTarget, check func(*testing.T, *yaml.Node, Target)) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	_ = filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(p), "/original/") {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, tg := pick(data)
		out, changes, err := Edit(file, data, tg, webRef)
		if err != nil {
			if out != nil || changes != nil {
				t.Fatalf("output with error %v", err)
			}
			return
		}
		if len(changes) == 0 {
			if !bytes.Equal(out, data) {
				t.Fatalf("bytes changed without a change reported")
			}
			return
		}
		checkOnlyChangedLines(t, data, out, changes)
		if check != nil {
			var doc yaml.Node
			if err := yaml.Unmarshal(out, &doc); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if len(doc.Content) == 1 {
				check(t, doc.Content[0], tg)
			}
		}
		if again, more, err := Edit(file, out, tg, webRef); err != nil || len(more) != 0 || !bytes.Equal(again, out) {
			t.Fatalf("second Edit = %v, %v", more, err)
		}
	})
}

// checkOnlyChangedLines aligns the lines of in and out (longest common
// subsequence) and fails when a line of out that no change reports differs,
// or when more lines of in changed than the changes account for.
func checkOnlyChangedLines(t *testing.T, in, out []byte, changes []Change) {
	t.Helper()
	a, b := splitLines(in), splitLines(out)
	allowed := map[int]bool{}
	for _, c := range changes {
		// A change may also touch the two lines before it: the line break
		// added after (or removed with) a last line that had none, and the
		// "images:" key created for a first kustomize entry.
		allowed[c.Line], allowed[c.Line-1], allowed[c.Line-2] = true, true, true
		if c.New != "" && (c.Line < 1 || c.Line > len(b) || !strings.Contains(b[c.Line-1], render(c.New, 0)) && !strings.Contains(b[c.Line-1], c.New)) {
			t.Fatalf("change %+v: line %d of the output does not hold the new value", c, c.Line)
		}
	}
	if len(a)*len(b) > 1<<20 {
		return
	}
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	unmatchedIn := 0
	for i, j := 0, 0; i < len(a) || j < len(b); {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			if !allowed[j+1] {
				t.Fatalf("line %d changed but no change reports it:\n in: %q\nout: %q\nchanges: %+v", j+1, in, out, changes)
			}
			j++
		default:
			unmatchedIn++
			i++
		}
	}
	if unmatchedIn > 2*len(changes) {
		t.Fatalf("%d input lines changed for %d changes:\n in: %q\nout: %q", unmatchedIn, len(changes), in, out)
	}
}

// splitLines splits at YAML line breaks, keeping each break with its line.
func splitLines(b []byte) []string {
	s := string(b)
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		n := 0
		switch {
		case strings.HasPrefix(s[i:], "\r\n"):
			n = 2
		case s[i] == '\n' || s[i] == '\r':
			n = 1
		case strings.HasPrefix(s[i:], "\u0085"):
			n = 2
		case strings.HasPrefix(s[i:], "\u2028") || strings.HasPrefix(s[i:], "\u2029"):
			n = 3
		}
		if n == 0 {
			i++
			continue
		}
		i += n
		lines = append(lines, s[start:i])
		start = i
	}
	if start < len(s) || len(lines) == 0 {
		lines = append(lines, s[start:])
	}
	return lines
}

// child returns the value of key in mapping n, or an empty node.
func child(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return &yaml.Node{}
}
