package gitops

import (
	"errors"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// MaxFileSize is the largest file, in bytes, read from a repository. The
// files Conveyor reads (conveyor.yaml, manifests, values, kustomizations)
// are far smaller; without a cap, one huge file held the process's memory
// several times over before anything refused it.
const MaxFileSize = 8 << 20

// ErrFileTooLarge means a file is over MaxFileSize bytes. It is refused
// from the blob's size, before the blob is read, and is permanent.
var ErrFileTooLarge = errors.New("file too large")

// checkSize refuses a blob of size bytes before it is read; the caller
// names the file.
func checkSize(size int64) error {
	if size <= MaxFileSize {
		return nil
	}
	return retry.Permanent(fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrFileTooLarge, size, MaxFileSize))
}
