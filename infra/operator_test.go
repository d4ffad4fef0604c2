package infra_test

import (
	"fmt"

	"github.com/google/go-cmp/cmp"
)

// checkOperatorPolicy: the operator CLI's managed policy grants exactly
// wantOperatorGrants and is attached to nothing in the stack, so its
// dynamodb:Scan never reaches a function.
func checkOperatorPolicy(s *stack) []string {
	r := s.resource("OperatorPolicy")
	if r == nil || r["Type"] != "AWS::IAM::ManagedPolicy" {
		return []string{"no AWS::IAM::ManagedPolicy OperatorPolicy"}
	}
	props, _ := r["Properties"].(map[string]any)
	var problems []string
	for _, k := range []string{"Roles", "Users", "Groups"} {
		if v, ok := props[k]; ok {
			problems = append(problems, fmt.Sprintf("OperatorPolicy is attached to %s %v: it is for operators, not functions", k, v))
		}
	}
	if d := cmp.Diff(wantOperatorGrants, roleGrants([]any{props["PolicyDocument"]})); d != "" {
		problems = append(problems, "OperatorPolicy grants differ (-want +got):\n"+d)
	}
	if o, ok := s.cf.Outputs["OperatorPolicyArn"]; !ok || o.Value != "{OperatorPolicy}" {
		problems = append(problems, fmt.Sprintf("output OperatorPolicyArn: %v, want {OperatorPolicy}", o.Value))
	}
	return problems
}
