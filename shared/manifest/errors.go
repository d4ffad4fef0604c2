package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel causes of the errors this package returns; check them with
// errors.Is. All of them are permanent: the same input fails the same way.
var (
	// ErrTargetNotFound means the file holds no value to edit for the target:
	// no container, no kustomization, no marker, no Helm parent key.
	ErrTargetNotFound = errors.New("target not found")
	// ErrAmbiguous means the target matches more than one value where one
	// is expected (two containers of the same name in one workload, two
	// kustomize image entries for one repository).
	ErrAmbiguous = errors.New("ambiguous target")
	// ErrNoDigest means a reference carries no digest. Mutable tags are never
	// written.
	ErrNoDigest = errors.New("reference has no digest")
	// ErrInvalidRef means a reference or one of its parts is malformed.
	ErrInvalidRef = errors.New("invalid image reference")
	// ErrInvalidTarget means the Target itself is incomplete or
	// contradictory (no app for a marker, Helm paths missing...).
	ErrInvalidTarget = errors.New("invalid target")
	// ErrUnsupported means the target exists but is written in a form this
	// package does not edit byte-faithfully (a block scalar, a value split
	// over several lines, an alias), or the file is not valid YAML.
	ErrUnsupported = errors.New("unsupported manifest")
	// ErrTooLarge means a file is over MaxFileSize bytes.
	ErrTooLarge = errors.New("file too large")
	// ErrTooManyAliases means a document holds more than MaxAliases alias
	// references.
	ErrTooManyAliases = errors.New("too many YAML aliases")
)

// MaxFileSize is the largest file, in bytes, that is parsed or edited.
const MaxFileSize = 1 << 20

// MaxAliases is the most alias references (*name) a file may hold.
const MaxAliases = 100

// editError is an error about one file, printed as "file: path: message".
type editError struct {
	file, path, msg string
	err             error // sentinel cause
}

func (e *editError) Error() string {
	var parts []string
	for _, p := range []string{e.file, e.path, e.msg} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ": ")
}

func (e *editError) Unwrap() error { return e.err }

func errorf(sentinel error, file, path, format string, args ...any) error {
	return &editError{file: file, path: path, msg: fmt.Sprintf(format, args...), err: sentinel}
}
