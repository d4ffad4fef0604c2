package main

import (
	"context"
	"fmt"
	"io"

	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/spf13/pflag"
)

// runLifecyclePolicy prints the ECR lifecycle policy of the rule
// `conveyor gc` applies, for `aws ecr put-lifecycle-policy
// --lifecycle-policy-text`.
func runLifecyclePolicy(fs *pflag.FlagSet) runFunc {
	buildDays := fs.Int("build-days", retention.DefaultBuildDays, "days after its push that a build no release-* tag protects expires")
	untaggedDays := fs.Int("untagged-days", 0, "expire untagged images this many days after their push (0: never; they include released images' provenance and SBOM)")
	return func(_ context.Context, stdout, _ io.Writer) error {
		if fs.NArg() != 0 {
			return fmt.Errorf("%w: conveyor lifecycle-policy [--build-days N] [--untagged-days N]", errUsage)
		}
		if *buildDays < 1 || *untaggedDays < 0 {
			return fmt.Errorf("%w: --build-days must be at least 1 and --untagged-days at least 0", errUsage)
		}
		p, err := retention.ECRLifecyclePolicy(retention.ECROptions{BuildDays: *buildDays, UntaggedDays: *untaggedDays})
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		data, err := p.JSON()
		if err != nil {
			return fmt.Errorf("encoding the lifecycle policy: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", data)
		return err
	}
}
