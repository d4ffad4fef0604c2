package imagebuild

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrInvalidRecipe is matched (errors.Is) by every error caused by the
// Dockerfile or Spec: syntax, unsupported instructions, bad flags, unknown
// stages. Retrying cannot fix it.
var ErrInvalidRecipe = errors.New("invalid build recipe")

// ErrInvalidContext is matched (errors.Is) by every error caused by the build
// context: a missing source, a path or symlink that leaves the context, a
// device, fifo or socket. Retrying cannot fix it.
var ErrInvalidContext = errors.New("invalid build context")

// ErrBaseImage is matched (errors.Is) when the base image cannot be used for
// a reason retrying will not fix: it does not exist, access is denied, or it
// has no image for the requested platform.
var ErrBaseImage = errors.New("unusable base image")

// ErrInvalidOptions is matched (errors.Is) when Build's Options are
// incomplete or malformed.
var ErrInvalidOptions = errors.New("invalid build options")

// recipeProblem is a recipe error found while planning, before it is given
// its location.
type recipeProblem string

func (p recipeProblem) Error() string        { return string(p) }
func (p recipeProblem) Is(target error) bool { return target == ErrInvalidRecipe }

// RecipeError is an error located at a line of a Dockerfile (or at a field of
// a Spec, with Line 0).
type RecipeError struct {
	File string // "Dockerfile", or "spec"
	Line int    // 1-based; 0 when not known
	Msg  string
	kind error // ErrInvalidRecipe or ErrInvalidContext
	err  error // the cause, if any
}

// Unwrap returns the cause, such as a *ContextError.
func (e *RecipeError) Unwrap() error { return e.err }

// Error implements error as "File:Line: Msg".
func (e *RecipeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Is reports whether target is the sentinel this error belongs to.
func (e *RecipeError) Is(target error) bool {
	k := e.kind
	if k == nil {
		k = ErrInvalidRecipe
	}
	return target == k
}

// ContextError names a path of the build context that cannot be copied.
type ContextError struct {
	Path   string // relative to the context root, slash-separated
	Reason string

	notFound bool
}

func isNotFound(err error) bool {
	ce, ok := err.(*ContextError)
	return ok && ce.notFound
}

// Error implements error.
func (e *ContextError) Error() string {
	return fmt.Sprintf("build context path %q: %s", e.Path, e.Reason)
}

// Is matches ErrInvalidContext.
func (e *ContextError) Is(target error) bool { return target == ErrInvalidContext }

// IsPermanent reports whether retrying the build cannot succeed without a
// change to its inputs: an invalid recipe or context, a malformed reference,
// or a registry answer in the 4xx range other than 408 and 429 (the base image
// is missing or access is denied). Network errors and 5xx answers are
// transient.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidRecipe) || errors.Is(err, ErrInvalidContext) || errors.Is(err, ErrBaseImage) || errors.Is(err, ErrInvalidOptions) {
		return true
	}
	var bad *name.ErrBadName
	if errors.As(err, &bad) {
		return true
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return permanentStatus(te.StatusCode)
	}
	return false
}

func permanentStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return false
	case code >= 400 && code < 500:
		return true
	}
	return false
}

func recipeErrorf(file string, line int, format string, args ...any) error {
	return &RecipeError{File: file, Line: line, Msg: fmt.Sprintf(format, args...), kind: ErrInvalidRecipe}
}
