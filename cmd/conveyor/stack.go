package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/spf13/pflag"
)

// varStack selects a deployed stack when --stack is not given.
const varStack = "CONVEYOR_STACK"

// stackFlag is the one selector of the AWS backend: --stack NAME, or
// $CONVEYOR_STACK.
type stackFlag struct{ v *string }

func addStackFlag(fs *pflag.FlagSet) stackFlag {
	return stackFlag{fs.String("stack", "", "work on this deployed AWS stack (default $"+varStack+"): its table, queues and GitOps "+
		"repository are the stack's outputs, unless CONVEYOR_* variables name them")}
}

// name returns the selected stack, if any.
func (f stackFlag) name() (string, bool) {
	n := strings.TrimSpace(*f.v)
	if n == "" {
		n = strings.TrimSpace(os.Getenv(varStack))
	}
	return n, n != ""
}

// stackSources maps each variable the functions read (awsenv.Load) to the
// template's output, or parameter, that holds its value in a deployed
// stack: the CLI resolves a stack into the same configuration its
// functions run with.
func stackSources() map[string]string {
	m := map[string]string{awsenv.VarTable: "TableName", awsenv.VarGitOpsRepo: "GitOpsRepoUrl",
		// The stack's forge; its token is the operator's own.
		awsenv.VarForge: "Forge", awsenv.VarForgeURL: "ForgeUrl",
		// Promotions by hand check provenance as the promote function does.
		attest.EnvBuilderID: "BuilderId", attest.EnvSigningKey: "SigningKey"}
	for _, s := range queue.Topology {
		title := strings.ToUpper(s.Name[:1]) + s.Name[1:]
		m[awsenv.QueueVar(s.Name, false)] = title + "QueueUrl"
		m[awsenv.QueueVar(s.Name, true)] = title + "DLQUrl"
	}
	return m
}

// optionalSource are variables that may be unset (the forge's defaults
// to github, no signing key): unset, they alone do not call for the
// stack's outputs.
var optionalSource = map[string]bool{awsenv.VarForge: true, awsenv.VarForgeURL: true, attest.EnvBuilderID: true, attest.EnvSigningKey: true}

// describer is the part of *cloudformation.Client the CLI uses.
type describer interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ describer = (*cloudformation.Client)(nil)

// stackLookup returns the lookup awsenv.Load reads a stack's configuration
// through: the process environment first (explicit names win, and an
// emulator's queues need no stack), then the stack's outputs and
// parameters, read with one DescribeStacks only when a variable is unset.
func stackLookup(ctx context.Context, cf describer, stack string, env func(string) (string, bool)) (func(string) (string, bool), error) {
	sources := stackSources()
	missing := false
	for v := range sources {
		if val, _ := env(v); strings.TrimSpace(val) == "" && !optionalSource[v] {
			missing = true
		}
	}
	values := map[string]string{}
	if missing {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
		if err != nil {
			return nil, fmt.Errorf("describing stack %s: %w", stack, err)
		}
		if len(out.Stacks) != 1 {
			return nil, fmt.Errorf("describing stack %s: %d stacks answered", stack, len(out.Stacks))
		}
		byKey := map[string]string{}
		for _, p := range out.Stacks[0].Parameters {
			byKey[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
		}
		for _, o := range out.Stacks[0].Outputs {
			byKey[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
		for v, key := range sources {
			values[v] = byKey[key]
		}
	}
	return func(name string) (string, bool) {
		if v, ok := env(name); ok && strings.TrimSpace(v) != "" {
			return v, true
		}
		v, ok := values[name]
		return v, ok && v != ""
	}, nil
}

// withOverrides puts values given as flags in front of lookup.
func withOverrides(lookup func(string) (string, bool), over map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v := over[name]; v != "" {
			return v, true
		}
		return lookup(name)
	}
}
