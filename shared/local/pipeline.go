package local

import (
	"context"
	"fmt"
	"sync"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
)

// PipelineSource reads conveyor.yaml from the tip of branch in the GitOps
// repository at location, parsing it only when the tip moved: a thousand-app
// file is parsed once per commit, not once per message.
func PipelineSource(location, branch string) ConfigSource {
	var mu sync.Mutex
	var commit string
	var cached *config.Config
	return func(ctx context.Context) (*config.Config, error) {
		auth, _ := EnvGitAuth(ctx, location)
		data, sha, err := gitops.ReadFile(ctx, location, branch, "conveyor.yaml", auth)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if sha == commit && cached != nil {
			return cached, nil
		}
		cfg, err := config.Parse("conveyor.yaml", data)
		if err != nil {
			return nil, fmt.Errorf("conveyor.yaml at %.12s: %w", sha, err)
		}
		commit, cached = sha, cfg
		return cfg, nil
	}
}
