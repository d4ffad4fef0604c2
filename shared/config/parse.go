package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest conveyor.yaml Parse accepts, in bytes: a verbose
// file of 10,000 apps is about 2 MB. Parsing is linear in the size (about
// 0.15 ms per app on two cores) and happens once per version of the file
// (pipeline.Cache), so the cap guards memory, not latency; templates keep
// larger pipelines smaller.
const MaxSize = 4 << 20

// MaxAliases is the most alias references (*name) a document may hold.
// Aliases are fine in moderation; the cap keeps alias bombs out.
const MaxAliases = 100

// Load reads and parses the file at path; see Parse.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading config: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxSize {
		return nil, tooLarge(path, st.Size())
	}
	// The limit guards against a file that grows after Stat, or a special file.
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("loading config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates conveyor.yaml. filename is used in error
// messages only. Defaults are applied to the returned Config. On failure it
// returns nil and Errors listing every problem found, sorted by line.
func Parse(filename string, data []byte, opts ...ParseOption) (*Config, error) {
	var o parseOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(data) > MaxSize {
		return nil, tooLarge(filename, int64(len(data)))
	}
	root, err := compose(filename, data)
	if err != nil {
		return nil, Errors{err}
	}
	if err := checkAliases(filename, root); err != nil {
		return nil, Errors{err}
	}
	r := newReporter(filename)
	d := &decoder{r: r, found: o.found}
	cfg := d.config(root)
	cfg.File = filename
	validate(cfg, r)
	if len(r.errs) > 0 {
		return nil, r.errs.sorted()
	}
	cfg.index()
	return cfg, nil
}

func tooLarge(filename string, size int64) Errors {
	return Errors{{
		File: filename,
		Msg:  fmt.Sprintf("file is %d bytes, over the %d-byte limit", size, MaxSize),
		err:  ErrTooLarge,
	}}
}

// compose parses data into a YAML node tree. Composing never expands
// aliases: each one stays a single node that points at its anchor.
func compose(filename string, data []byte) (root *yaml.Node, perr *Error) {
	defer func() {
		// yaml.v3 has panicked on malformed input before (CVE-2022-28948);
		// a config file must never take a function down.
		if v := recover(); v != nil {
			root, perr = nil, &Error{File: filename, Line: 1, Msg: fmt.Sprintf("syntax error: %v", v)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: filename, Line: 1, Column: 1, Msg: "document is empty: version and apps are required"}
		}
		return nil, syntaxError(filename, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(filename, data, err)
	default:
		return nil, &Error{File: filename, Line: next.Line, Column: next.Column, Msg: "more than one YAML document: conveyor.yaml holds exactly one"}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

var (
	yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnc  = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// parserProblems are the yaml.v3 messages that come from its parser rather
// than its scanner. yaml.v3 prints the parser's 0-based line as is but adds
// one to the scanner's, and leaves the line out when it is 0.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found incompatible YAML document":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
}

func syntaxError(filename string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserProblems[msg] {
			line++
		}
	}
	col := 0
	if m := unknownAnc.FindStringSubmatch(msg); m != nil {
		// The composer names the anchor but not where it was used.
		line, col = locate(data, "*"+m[1])
	}
	return &Error{File: filename, Line: line, Column: col, Msg: "syntax error: " + msg}
}

// locate returns the 1-based line and column of the first s in data, or
// line 1, column 0.
func locate(data []byte, s string) (line, col int) {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 1, 0
	}
	before := data[:i]
	line = bytes.Count(before, []byte("\n")) + 1
	return line, len([]rune(string(before[bytes.LastIndexByte(before, '\n')+1:]))) + 1
}

// checkAliases counts alias nodes without following them and reports the
// first one over MaxAliases.
func checkAliases(filename string, root *yaml.Node) *Error {
	count := 0
	var over *yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if over != nil {
			return
		}
		if n.Kind == yaml.AliasNode {
			count++
			if count > MaxAliases {
				over = n
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if over == nil {
		return nil
	}
	return &Error{
		File: filename, Line: over.Line, Column: over.Column,
		Msg: fmt.Sprintf("more than %d aliases: refusing a possible alias bomb", MaxAliases),
		err: ErrTooManyAliases,
	}
}
