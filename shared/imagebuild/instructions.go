package imagebuild

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

type stepBuilder func(p *dockerfileParser, n *parser.Node) (Step, error)

var stepBuilders map[string]stepBuilder

func init() {
	stepBuilders = map[string]stepBuilder{
		"copy":       (*dockerfileParser).copyStep,
		"add":        (*dockerfileParser).copyStep,
		"env":        (*dockerfileParser).pairs,
		"label":      (*dockerfileParser).pairs,
		"workdir":    (*dockerfileParser).single,
		"user":       (*dockerfileParser).single,
		"expose":     (*dockerfileParser).expose,
		"entrypoint": (*dockerfileParser).command,
		"cmd":        (*dockerfileParser).command,
	}
}

func (p *dockerfileParser) copyStep(n *parser.Node) (Step, error) {
	cmd := strings.ToUpper(n.Value)
	step := Step{Instruction: Instruction(cmd)}
	ws := words(n)
	if len(ws) < 2 {
		return step, p.errorf(n, "%s wants at least one source and a destination", cmd)
	}
	for i, w := range ws {
		v, err := p.expand(n, w)
		if err != nil {
			return step, err
		}
		if v == "" {
			return step, p.errorf(n, "%s: argument %q is empty after substitution", cmd, w)
		}
		ws[i] = v
	}
	step.Sources, step.Dest = ws[:len(ws)-1], ws[len(ws)-1]
	if step.Instruction == Add {
		for _, s := range step.Sources {
			if isURL(s) {
				return step, p.errorf(n, "ADD of a URL is not supported: %s; download it in CI, check its digest and COPY it", s)
			}
		}
	}
	if v, ok := flag(n, "from"); ok {
		from, err := p.expand(n, v)
		if err != nil {
			return step, err
		}
		from = strings.ToLower(from)
		if i, err := strconv.Atoi(from); err == nil {
			if i < 0 || i >= len(p.recipe.Stages) {
				return step, p.errorf(n, "COPY --from=%s: there is no earlier stage %d", v, i)
			}
		} else if p.stageIndex(from) < 0 {
			return step, p.errorf(n, "COPY --from=%s: no earlier stage is named %q (copying from an image is not supported)", v, from)
		}
		step.From = from
	}
	if v, ok := flag(n, "chown"); ok {
		v, err := p.expand(n, v)
		if err != nil {
			return step, err
		}
		o, err := parseChown(v)
		if err != nil {
			return step, p.errorf(n, "%s --chown=%s: %v", cmd, v, err)
		}
		step.Chown = o
	}
	if v, ok := flag(n, "chmod"); ok {
		v, err := p.expand(n, v)
		if err != nil {
			return step, err
		}
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil || m > 0o7777 {
			return step, p.errorf(n, "%s --chmod=%s: only octal modes such as 0755 are supported", cmd, v)
		}
		mode := fs.FileMode(m)
		step.Chmod = &mode
	}
	return step, nil
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	for _, prefix := range []string{"http://", "https://", "git@", "git://", "ssh://"} {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// parseChown accepts "uid" or "uid:gid", numeric only: there is no
// /etc/passwd to look names up in.
func parseChown(s string) (*Owner, error) {
	u, g, hasGID := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(u, 10, 31)
	if err != nil {
		return nil, errors.New("only a numeric uid[:gid] is supported (names cannot be looked up without a runtime)")
	}
	gid := uid
	if hasGID {
		if gid, err = strconv.ParseUint(g, 10, 31); err != nil {
			return nil, errors.New("only a numeric uid[:gid] is supported (names cannot be looked up without a runtime)")
		}
	}
	return &Owner{UID: int(uid), GID: int(gid)}, nil
}

// pairs handles ENV and LABEL, whose nodes come as key, value, separator
// triples. Every value is substituted with the variables as they were before
// the instruction, as Docker does.
func (p *dockerfileParser) pairs(n *parser.Node) (Step, error) {
	cmd := strings.ToUpper(n.Value)
	step := Step{Instruction: Instruction(cmd)}
	ws := words(n)
	if len(ws) == 0 || len(ws)%3 != 0 {
		return step, p.errorf(n, "%s wants key=value pairs", cmd)
	}
	for i := 0; i < len(ws); i += 3 {
		key, err := p.expand(n, ws[i])
		if err != nil {
			return step, err
		}
		val, err := p.expand(n, ws[i+1])
		if err != nil {
			return step, err
		}
		if key == "" {
			return step, p.errorf(n, "%s: empty key", cmd)
		}
		step.Pairs = append(step.Pairs, KeyValue{Key: key, Value: val})
	}
	if step.Instruction == Env {
		for _, kv := range step.Pairs {
			p.env[kv.Key] = kv.Value
		}
	}
	return step, nil
}

func (p *dockerfileParser) single(n *parser.Node) (Step, error) {
	cmd := strings.ToUpper(n.Value)
	step := Step{Instruction: Instruction(cmd)}
	if n.Next == nil {
		return step, p.errorf(n, "%s wants a value", cmd)
	}
	v, err := p.expand(n, n.Next.Value)
	if err != nil {
		return step, err
	}
	if v == "" {
		return step, p.errorf(n, "%s is empty after substitution", cmd)
	}
	step.Values = []string{v}
	return step, nil
}

func (p *dockerfileParser) expose(n *parser.Node) (Step, error) {
	step := Step{Instruction: Expose}
	ws := words(n)
	if len(ws) == 0 {
		return step, p.errorf(n, "EXPOSE wants at least one port")
	}
	for _, w := range ws {
		v, err := p.expand(n, w)
		if err != nil {
			return step, err
		}
		ports, err := exposedPorts(v)
		if err != nil {
			return step, p.errorf(n, "EXPOSE: %v", err)
		}
		step.Values = append(step.Values, ports...)
	}
	return step, nil
}

// command handles ENTRYPOINT and CMD: the exec form is kept as written, the
// shell form becomes ["/bin/sh", "-c", text] as Docker does.
func (p *dockerfileParser) command(n *parser.Node) (Step, error) {
	step := Step{Instruction: Instruction(strings.ToUpper(n.Value))}
	if n.Attributes["json"] {
		step.Values = words(n)
		if step.Values == nil {
			step.Values = []string{}
		}
		return step, nil
	}
	if n.Next == nil {
		return step, p.errorf(n, "%s wants a command", step.Instruction)
	}
	step.Values = []string{"/bin/sh", "-c", n.Next.Value}
	return step, nil
}
