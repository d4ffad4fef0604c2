package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrTooLarge is the cause of the error Parse returns for input over
// MaxSize bytes; check it with errors.Is.
var ErrTooLarge = errors.New("file too large")

// ErrTooManyAliases is the cause of the error Parse returns for a document
// with more than MaxAliases alias references; check it with errors.Is.
var ErrTooManyAliases = errors.New("too many YAML aliases")

// Error is one problem in conveyor.yaml. It prints as
//
//	conveyor.yaml:12:7: apps[0].environments[1].release: must be "auto" or "manual", got "sometimes"
//
// leaving out the parts that are unknown (zero Line or Column, empty Field).
type Error struct {
	File   string
	Line   int // 1-based; 0 when the problem concerns the whole file
	Column int // 1-based; 0 when unknown, as for YAML syntax errors
	Field  string
	Msg    string

	err error // sentinel cause, for errors.Is
}

// Error formats e as file:line:column: field: message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel cause of e (ErrTooLarge, ErrTooManyAliases),
// or nil.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in a file, sorted by line and column.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.As and errors.Is look at each.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sorted returns es sorted by position, without repeats (a problem in an
// anchored node is found again through each alias of it).
func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	out := es[:0]
	seen := map[string]bool{}
	for _, e := range es {
		if s := e.Error(); !seen[s] {
			seen[s] = true
			out = append(out, e)
		}
	}
	return out
}

// Errorf returns an error about the value at p in c's file, for stages that
// find a problem with the configuration after parsing, for example a
// missing manifest at an environment's path:
//
//	cfg.Errorf(env.Pos, "path %q: no such file in the GitOps repository", env.Path)
func (c *Config) Errorf(p Pos, format string, args ...any) *Error {
	return &Error{File: c.File, Line: p.Line, Column: p.Column, Field: p.Path, Msg: fmt.Sprintf(format, args...)}
}
