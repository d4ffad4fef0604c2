package imagebuild

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// maxDockerfileSize bounds what ParseDockerfile reads.
const maxDockerfileSize = 1 << 20

// refusals explains, per instruction, why it cannot be part of a recipe.
var refusals = map[string]string{
	"run":         "Conveyor builds without a container runtime; build binaries in CI and COPY them",
	"healthcheck": "declare probes in the Kubernetes manifest instead",
	"onbuild":     "Conveyor images are final images, not builder bases",
	"shell":       "nothing runs a shell at build time; write CMD and ENTRYPOINT in exec form",
	"volume":      "declare volumes in the Kubernetes manifest instead",
	"stopsignal":  "set the signal in the Kubernetes manifest or handle SIGTERM",
	"maintainer":  "use LABEL org.opencontainers.image.authors=... instead",
}

// ParseDockerfile reads a Dockerfile restricted to what needs no container
// runtime and returns its Recipe. name is used in error messages
// ("Dockerfile:7: ..."); args are the build arguments overriding ARG defaults.
// Every error matches ErrInvalidRecipe.
func ParseDockerfile(name string, r io.Reader, args map[string]string) (*Recipe, error) {
	if name == "" {
		name = "Dockerfile"
	}
	data, err := io.ReadAll(io.LimitReader(r, maxDockerfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxDockerfileSize {
		return nil, recipeErrorf(name, 0, "larger than %d bytes", maxDockerfileSize)
	}
	res, err := parser.Parse(strings.NewReader(string(data)))
	if err != nil {
		line := 0
		var le *parser.LocationError
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			line = le.Locations[0][0].Start.Line
		}
		return nil, recipeErrorf(name, line, "%v", err)
	}
	p := &dockerfileParser{
		file:       name,
		lex:        shell.NewLex(res.EscapeToken),
		buildArgs:  args,
		globalArgs: map[string]string{},
	}
	for _, n := range res.AST.Children {
		if err := p.instruction(n); err != nil {
			return nil, err
		}
	}
	if err := p.finishStage(); err != nil {
		return nil, err
	}
	if len(p.recipe.Stages) == 0 {
		return nil, recipeErrorf(name, 0, "no FROM instruction")
	}
	p.recipe.File = name
	return &p.recipe, nil
}

type dockerfileParser struct {
	file       string
	lex        *shell.Lex
	buildArgs  map[string]string
	globalArgs map[string]string // ARGs declared before the first FROM

	recipe Recipe
	cur    *Stage
	// Variables visible in the current stage: ENV wins over ARG.
	args   map[string]string
	env    map[string]string
	envSet []map[string]string // ENV at the end of each stage, by stage index
}

// Get implements shell.EnvGetter.
func (p *dockerfileParser) Get(key string) (string, bool) {
	if p.cur == nil {
		v, ok := p.globalArgs[key]
		return v, ok
	}
	if v, ok := p.env[key]; ok {
		return v, true
	}
	if v, ok := p.args[key]; ok {
		return v, true
	}
	// Not defined by this Dockerfile: it may come from the base image's
	// environment, which is only known at build time.
	return baseVarRef(key), true
}

// Keys implements shell.EnvGetter.
func (p *dockerfileParser) Keys() []string {
	var keys []string
	if p.cur == nil {
		for k := range p.globalArgs {
			keys = append(keys, k)
		}
		return keys
	}
	for k := range p.env {
		keys = append(keys, k)
	}
	for k := range p.args {
		if _, ok := p.env[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func (p *dockerfileParser) errorf(n *parser.Node, format string, a ...any) error {
	return recipeErrorf(p.file, n.StartLine, format, a...)
}

func (p *dockerfileParser) expand(n *parser.Node, word string) (string, error) {
	s, _, err := p.lex.ProcessWord(word, p)
	if err != nil {
		return "", p.errorf(n, "%s: substituting variables in %q: %v", strings.ToUpper(n.Value), word, err)
	}
	return s, nil
}

func (p *dockerfileParser) instruction(n *parser.Node) error {
	cmd := strings.ToLower(n.Value)
	upper := strings.ToUpper(cmd)
	if why, ok := refusals[cmd]; ok {
		return p.errorf(n, "%s is not supported: %s", upper, why)
	}
	if len(n.Heredocs) > 0 {
		return p.errorf(n, "%s: heredocs are not supported; put the content in a file of the context", upper)
	}
	if cmd == "from" {
		return p.from(n)
	}
	if cmd == "arg" {
		return p.arg(n)
	}
	if p.cur == nil {
		if _, known := stepBuilders[cmd]; known {
			return p.errorf(n, "%s before the first FROM", upper)
		}
	}
	build, ok := stepBuilders[cmd]
	if !ok {
		return p.errorf(n, "%s is not supported: Conveyor builds without a container runtime and supports only FROM, COPY, ADD, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, ENTRYPOINT and CMD", upper)
	}
	if err := checkFlags(p, n, cmd); err != nil {
		return err
	}
	step, err := build(p, n)
	if err != nil {
		return err
	}
	step.Line = n.StartLine
	step.Text = strings.TrimSpace(n.Original)
	p.cur.Steps = append(p.cur.Steps, step)
	return nil
}

var allowedFlags = map[string][]string{
	"copy": {"from", "chown", "chmod", "link"},
	"add":  {"chown", "chmod", "link"},
}

func checkFlags(p *dockerfileParser, n *parser.Node, cmd string) error {
	for _, f := range n.Flags {
		name, _, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if !slices.Contains(allowedFlags[cmd], name) {
			return p.errorf(n, "%s --%s is not supported", strings.ToUpper(cmd), name)
		}
	}
	return nil
}

// flag returns the value of --name=value among a node's flags.
func flag(n *parser.Node, name string) (string, bool) {
	for _, f := range n.Flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

func words(n *parser.Node) []string {
	var ws []string
	for c := n.Next; c != nil; c = c.Next {
		ws = append(ws, c.Value)
	}
	return ws
}

func (p *dockerfileParser) finishStage() error {
	if p.cur == nil {
		return nil
	}
	p.envSet = append(p.envSet, p.env)
	p.recipe.Stages = append(p.recipe.Stages, *p.cur)
	return nil
}

func (p *dockerfileParser) from(n *parser.Node) error {
	for _, f := range n.Flags {
		if k, _, _ := strings.Cut(strings.TrimPrefix(f, "--"), "="); k != "platform" {
			return p.errorf(n, "FROM --%s is not supported", k)
		}
	}
	if err := p.finishStage(); err != nil {
		return err
	}
	p.cur = nil // FROM sees only the global ARGs
	ws := words(n)
	if len(ws) != 1 && (len(ws) != 3 || !strings.EqualFold(ws[1], "as")) {
		return p.errorf(n, "FROM wants an image and optionally AS name")
	}
	base, err := p.expand(n, ws[0])
	if err != nil {
		return err
	}
	if base == "" {
		return p.errorf(n, "FROM: the image is empty after substitution")
	}
	st := Stage{Base: base, Line: n.StartLine}
	if len(ws) == 3 {
		st.Name = strings.ToLower(ws[2])
		if !validStageName(st.Name) {
			return p.errorf(n, "FROM: invalid stage name %q", ws[2])
		}
		if p.stageIndex(st.Name) >= 0 {
			return p.errorf(n, "FROM: a stage is already named %q", st.Name)
		}
	}
	if v, ok := flag(n, "platform"); ok {
		plat, err := p.expand(n, v)
		if err != nil {
			return err
		}
		if plat != "" {
			if _, err := v1.ParsePlatform(plat); err != nil {
				return p.errorf(n, "FROM --platform=%s: %v", v, err)
			}
		}
		st.Platform = plat
	}
	p.args = map[string]string{}
	p.env = map[string]string{}
	if strings.EqualFold(base, "scratch") {
		st.Base = "scratch"
	} else if i := p.stageIndex(strings.ToLower(base)); i >= 0 {
		// FROM an earlier stage continues it.
		parent := p.recipe.Stages[i]
		st.Base, st.Platform = parent.Base, parent.Platform
		st.Steps = slices.Clone(parent.Steps)
		for k, v := range p.envSet[i] {
			p.env[k] = v
		}
	}
	p.cur = &st
	return nil
}

func validStageName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func (p *dockerfileParser) stageIndex(name string) int {
	for i, st := range p.recipe.Stages {
		if st.Name != "" && st.Name == name {
			return i
		}
	}
	return -1
}

func (p *dockerfileParser) arg(n *parser.Node) error {
	ws := words(n)
	if len(ws) == 0 {
		return p.errorf(n, "ARG wants a name")
	}
	for _, w := range ws {
		key, def, hasDef := strings.Cut(w, "=")
		if key == "" {
			return p.errorf(n, "ARG %q has no name", w)
		}
		if hasDef {
			v, err := p.expand(n, def)
			if err != nil {
				return err
			}
			def = v
		}
		val, set := def, hasDef
		if p.cur != nil && !hasDef {
			// Redeclaring a global ARG inside a stage brings its value in.
			val, set = p.globalArgs[key]
		}
		if v, ok := p.buildArgs[key]; ok {
			val, set = v, true
		} else if p.cur != nil && isPlatformArg(key) {
			// Each platform built gets its own value, known at build time.
			val, set = baseVarRef(key), true
		}
		if p.cur == nil {
			if set {
				p.globalArgs[key] = val
			}
			continue
		}
		if set {
			p.args[key] = val
		} else {
			delete(p.args, key)
		}
	}
	return nil
}
