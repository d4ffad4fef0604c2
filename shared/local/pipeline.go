package local

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/conveyor-gitops/conveyor/shared/pipeline"
)

// PipelineSource reads conveyor.yaml from the tip of branch in the GitOps
// repository at location through pipeline.Cache, with the git credentials
// of the forge opts select: parsed once per commit, not once per message.
func PipelineSource(location, branch string, opts ...GitOpsOption) ConfigSource {
	var o gitopsOptions
	for _, opt := range opts {
		opt(&o)
	}
	// Resolved on each fetch, as OpenGitOps does at start: a repository
	// created after this call is still found.
	auth := func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
		t, err := selectForge(location, o.forge)
		if err != nil {
			return nil, err
		}
		return t.gitAuth()(ctx, repoURL)
	}
	return pipeline.NewCache(location, branch, auth).Config
}
