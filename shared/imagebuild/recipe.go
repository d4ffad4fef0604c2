package imagebuild

import (
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Recipe is what to build: stages of a Dockerfile (or one stage made from a
// Spec). The last stage is the image; earlier stages only provide files to
// COPY --from.
type Recipe struct {
	File   string // name used in error messages: "Dockerfile", "spec"
	Stages []Stage
}

// Stage is one FROM of a Dockerfile with the steps that follow it.
type Stage struct {
	Name     string // lower-case name given with AS, or ""
	Base     string // image reference, or "scratch"
	Platform string // FROM --platform, "" when not given
	Line     int
	Steps    []Step
}

// Instruction names the kind of a Step.
type Instruction string

// The instructions a recipe can hold.
const (
	Copy       Instruction = "COPY"
	Add        Instruction = "ADD"
	Env        Instruction = "ENV"
	Label      Instruction = "LABEL"
	Workdir    Instruction = "WORKDIR"
	User       Instruction = "USER"
	Expose     Instruction = "EXPOSE"
	Entrypoint Instruction = "ENTRYPOINT"
	Cmd        Instruction = "CMD"
)

// Step is one instruction of a stage, with variables already substituted.
// A variable the Dockerfile does not define (such as PATH in
// `ENV PATH=/app/bin:$PATH`) may come from the base image: it is kept as
// "\x00NAME\x00" and substituted from the base image's environment at build
// time (with the empty string when the base does not set it either).
type Step struct {
	Instruction Instruction
	Line        int
	Text        string // the instruction as written, for the image history

	// COPY and ADD.
	Sources []string     // relative to the context, or to the --from stage's root
	Dest    string       // as written; relative paths are resolved against WORKDIR at build time
	From    string       // the --from stage's name (or index), "" for the build context
	Chown   *Owner       // nil keeps uid and gid 0
	Chmod   *fs.FileMode // nil keeps the normalised modes

	// ENTRYPOINT, CMD (argv), EXPOSE ("80/tcp"), WORKDIR and USER (one value).
	Values []string
	// ENV and LABEL.
	Pairs []KeyValue
}

// Owner is a numeric owner given with --chown.
type Owner struct {
	UID, GID int
}

// KeyValue is one ENV or LABEL pair.
type KeyValue struct {
	Key, Value string
}

// Spec is a Dockerfile-less recipe, as a `build:` block declares it.
type Spec struct {
	Base       string // image reference or "scratch"
	Files      []File
	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	User       string
	Workdir    string
	Labels     map[string]string
	Expose     []string
}

// File is one file or directory of the context copied into the image, like
// `COPY Src Dst`.
type File struct {
	Src string
	Dst string
}

// RecipeFromSpec turns a Spec into a one-stage Recipe. WORKDIR comes first so
// that relative destinations are relative to it; ENV and LABEL pairs are
// sorted by key so the result does not depend on map order.
func RecipeFromSpec(s Spec) (*Recipe, error) {
	const file = "spec"
	if s.Base == "" {
		return nil, recipeErrorf(file, 0, "base is empty: name an image or \"scratch\"")
	}
	st := Stage{Base: s.Base}
	if strings.EqualFold(s.Base, "scratch") {
		st.Base = "scratch"
	}
	add := func(step Step) { st.Steps = append(st.Steps, step) }
	if s.Workdir != "" {
		add(Step{Instruction: Workdir, Text: "WORKDIR " + s.Workdir, Values: []string{s.Workdir}})
	}
	for i, f := range s.Files {
		if f.Src == "" || f.Dst == "" {
			return nil, recipeErrorf(file, 0, "files[%d]: src and dst are both required", i)
		}
		src, dst := markPlatformArgs(f.Src), markPlatformArgs(f.Dst)
		add(Step{Instruction: Copy, Text: "COPY " + f.Src + " " + f.Dst, Sources: []string{src}, Dest: dst})
	}
	if len(s.Env) > 0 {
		add(Step{Instruction: Env, Text: "ENV", Pairs: sortedPairs(s.Env)})
	}
	if len(s.Labels) > 0 {
		add(Step{Instruction: Label, Text: "LABEL", Pairs: sortedPairs(s.Labels)})
	}
	if s.User != "" {
		add(Step{Instruction: User, Text: "USER " + s.User, Values: []string{s.User}})
	}
	if len(s.Expose) > 0 {
		var ports []string
		for _, p := range s.Expose {
			ps, err := exposedPorts(p)
			if err != nil {
				return nil, recipeErrorf(file, 0, "expose: %v", err)
			}
			ports = append(ports, ps...)
		}
		add(Step{Instruction: Expose, Text: "EXPOSE " + strings.Join(s.Expose, " "), Values: ports})
	}
	if s.Entrypoint != nil {
		add(Step{Instruction: Entrypoint, Text: "ENTRYPOINT " + quoteArgs(s.Entrypoint), Values: slices.Clone(s.Entrypoint)})
	}
	if s.Cmd != nil {
		add(Step{Instruction: Cmd, Text: "CMD " + quoteArgs(s.Cmd), Values: slices.Clone(s.Cmd)})
	}
	return &Recipe{File: file, Stages: []Stage{st}}, nil
}

const baseVarMark = "\x00"

func baseVarRef(name string) string { return baseVarMark + name + baseVarMark }

var baseVarPattern = regexp.MustCompile("\x00([^\x00]*)\x00")

// withBaseEnv substitutes the variables left for the base image's
// environment (KEY=value strings).
func (s Step) withBaseEnv(env []string) Step {
	if !s.hasBaseVars() {
		return s
	}
	lookup := func(ref string) string {
		name := strings.Trim(ref, baseVarMark)
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v
			}
		}
		return ""
	}
	sub := func(v string) string { return baseVarPattern.ReplaceAllStringFunc(v, lookup) }
	subAll := func(vs []string) []string {
		if vs == nil {
			return nil
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = sub(v)
		}
		return out
	}
	s.Sources, s.Values, s.Dest = subAll(s.Sources), subAll(s.Values), sub(s.Dest)
	pairs := make([]KeyValue, len(s.Pairs))
	for i, kv := range s.Pairs {
		pairs[i] = KeyValue{Key: sub(kv.Key), Value: sub(kv.Value)}
	}
	s.Pairs = pairs
	return s
}

func (s Step) hasBaseVars() bool {
	all := append(append([]string{s.Dest}, s.Sources...), s.Values...)
	for _, kv := range s.Pairs {
		all = append(all, kv.Key, kv.Value)
	}
	for _, v := range all {
		if strings.Contains(v, baseVarMark) {
			return true
		}
	}
	return false
}

func sortedPairs(m map[string]string) []KeyValue {
	var kv []KeyValue
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, KeyValue{Key: k, Value: markPlatformArgs(m[k])})
	}
	return kv
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// exposedPorts normalises an EXPOSE word: "80" → "80/tcp", "53/udp",
// "8000-8002" → three ports.
func exposedPorts(word string) ([]string, error) {
	port, proto, ok := strings.Cut(word, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("port %q: protocol must be tcp, udp or sctp", word)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	first, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || first == 0 {
		return nil, fmt.Errorf("port %q is not a number between 1 and 65535", word)
	}
	last := first
	if isRange {
		last, err = strconv.ParseUint(hi, 10, 16)
		if err != nil || last < first || last-first >= 1024 {
			return nil, fmt.Errorf("port range %q is invalid", word)
		}
	}
	var out []string
	for p := first; p <= last; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}
