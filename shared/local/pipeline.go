package local

import (
	"github.com/conveyor-gitops/conveyor/shared/pipeline"
)

// PipelineSource reads conveyor.yaml from the tip of branch in the GitOps
// repository at location through pipeline.Cache, with the local runtime's
// git credentials: parsed once per commit, not once per message.
func PipelineSource(location, branch string) ConfigSource {
	return pipeline.NewCache(location, branch, EnvGitAuth).Config
}
