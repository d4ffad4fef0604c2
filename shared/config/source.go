package config

import (
	"context"
	"errors"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Loader returns the pipeline's current conveyor.yaml, wherever it lives
// (a file, the GitOps repository's branch tip, a cache of either).
type Loader func(ctx context.Context) (*Config, error)

// Load calls s and classifies a failure the way every handler must: an
// invalid conveyor.yaml is permanent (the same message fails the same way
// until someone fixes the file, then replays), an unreachable repository is
// transient.
func (s Loader) Load(ctx context.Context) (*Config, error) {
	cfg, err := s(ctx)
	if err == nil {
		return cfg, nil
	}
	var errs Errors
	if errors.As(err, &errs) {
		return nil, retry.Permanent(fmt.Errorf("loading conveyor.yaml: %w", err))
	}
	return nil, fmt.Errorf("loading conveyor.yaml: %w", err)
}
