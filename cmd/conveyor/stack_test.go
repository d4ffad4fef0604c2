package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// describeFn is a describer that counts its calls.
type describeFn struct {
	calls int
	fn    func(name string) (*cloudformation.DescribeStacksOutput, error)
}

func (d *describeFn) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	d.calls++
	return d.fn(aws.ToString(in.StackName))
}

// TestStackLookup: a stack's variables come from the environment when set
// there, else from its outputs and parameters, read once and only when
// something is missing.
func TestStackLookup(t *testing.T) {
	stack := func(name string) (*cloudformation.DescribeStacksOutput, error) {
		if name != "conveyor-prod" {
			t.Errorf("described stack %q", name)
		}
		return &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{{
			StackName:  aws.String(name),
			Parameters: []types.Parameter{{ParameterKey: aws.String("GitOpsRepoUrl"), ParameterValue: aws.String("https://github.com/acme/gitops")}},
			Outputs: []types.Output{
				{OutputKey: aws.String("TableName"), OutputValue: aws.String("conveyor-prod-Table")},
				{OutputKey: aws.String("BuildsQueueUrl"), OutputValue: aws.String("https://sqs/builds")},
				{OutputKey: aws.String("BuildsDLQUrl"), OutputValue: aws.String("https://sqs/builds-dlq")},
				{OutputKey: aws.String("BuilderId"), OutputValue: aws.String("arn:aws:cloudformation:us-east-1:111122223333:stack/conveyor-prod")},
			},
		}}}, nil
	}
	full := map[string]string{}
	for v := range stackSources() {
		full[v] = "from-env"
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		calls int
		want  map[string]string
	}{
		{"outputs", map[string]string{}, 1, map[string]string{
			"CONVEYOR_TABLE": "conveyor-prod-Table", "CONVEYOR_GITOPS_REPO": "https://github.com/acme/gitops",
			"CONVEYOR_BUILDS_QUEUE_URL": "https://sqs/builds", "CONVEYOR_BUILDS_DLQ_URL": "https://sqs/builds-dlq", "CONVEYOR_IMAGES_QUEUE_URL": "",
			// Promotions by hand check provenance with the stack's builder
			// id; an unsigned stack has no SigningKey output.
			"CONVEYOR_BUILDER_ID": "arn:aws:cloudformation:us-east-1:111122223333:stack/conveyor-prod", "CONVEYOR_SIGNING_KEY": ""}},
		{"the environment wins", map[string]string{"CONVEYOR_TABLE": "mine", "CONVEYOR_GITHUB_TOKEN": "t"}, 1, map[string]string{
			"CONVEYOR_TABLE": "mine", "CONVEYOR_BUILDS_QUEUE_URL": "https://sqs/builds", "CONVEYOR_GITHUB_TOKEN": "t"}},
		{"everything named: no CloudFormation call", full, 0, map[string]string{"CONVEYOR_TABLE": "from-env", "CONVEYOR_BUILDS_DLQ_URL": "from-env"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &describeFn{fn: stack}
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			lookup, err := stackLookup(context.Background(), d, "conveyor-prod", env)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k := range tc.want {
				got[k], _ = lookup(k)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lookup (-want +got):\n%s", diff)
			}
			if d.calls != tc.calls {
				t.Errorf("DescribeStacks called %d times, want %d", d.calls, tc.calls)
			}
		})
	}
}

// TestStackSourcesMatchTemplate: every output or parameter the CLI reads
// a stack through exists in infra/template.yaml.
func TestStackSourcesMatchTemplate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Parameters map[string]yaml.Node `yaml:"Parameters"`
		Outputs    map[string]yaml.Node `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for v, key := range stackSources() {
		_, isParam := tpl.Parameters[key]
		_, isOutput := tpl.Outputs[key]
		if !isParam && !isOutput {
			missing = append(missing, v+" ← "+key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("not outputs nor parameters of the template: %s", strings.Join(missing, ", "))
	}
}
