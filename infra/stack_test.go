package infra_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

const templatePath = "template.yaml"

// stack is the parsed template twice over, from the same intrinsic-resolved
// JSON: goformation's typed CloudFormation resources, and the plain tree for
// the SAM properties goformation v7 does not model (an SQS event's
// FunctionResponseTypes and ScalingConfig make its union type give up).
type stack struct {
	cf  *cloudformation.Template
	raw map[string]any
}

// symbolic resolves intrinsic functions into readable strings instead of
// goformation's defaults, which turn every GetAtt and every Ref to a
// resource into null and so hide exactly the wiring the invariants are
// about: Ref X becomes "{X}", GetAtt X.Arn "{X.Arn}", Sub keeps its string
// with ${…} written as {…}, and If takes its first branch (the template's
// fullest configuration, e.g. alarms with their SNS action).
func symbolic() *intrinsics.ProcessorOptions {
	return &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Ref":        refSymbol,
		"Fn::GetAtt": getAttSymbol,
		"Fn::Sub":    subSymbol,
		"Fn::Join":   joinSymbol,
		"Fn::If":     ifFirst,
	}}
}

func refSymbol(_ string, in, _ any) any {
	name, _ := in.(string)
	if name == "AWS::NoValue" {
		return nil
	}
	return "{" + name + "}"
}

func getAttSymbol(_ string, in, _ any) any {
	switch v := in.(type) {
	case string:
		return "{" + v + "}"
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return "{" + strings.Join(parts, ".") + "}"
	}
	return nil
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func subSymbol(_ string, in, _ any) any {
	var s string
	switch v := in.(type) {
	case string:
		s = v
	case []any:
		if len(v) == 0 {
			return nil
		}
		s, _ = v[0].(string)
		if len(v) > 1 {
			vars, _ := v[1].(map[string]any)
			for k, val := range vars {
				if str, ok := val.(string); ok {
					s = strings.ReplaceAll(s, "${"+k+"}", str)
				}
			}
		}
	}
	return subVar.ReplaceAllString(s, "{$1}")
}

func joinSymbol(_ string, in, _ any) any {
	v, _ := in.([]any)
	if len(v) != 2 {
		return nil
	}
	sep, _ := v[0].(string)
	items, _ := v[1].([]any)
	parts := make([]string, len(items))
	for i, p := range items {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, sep)
}

func ifFirst(_ string, in, _ any) any {
	if v, ok := in.([]any); ok && len(v) == 3 {
		return v[1]
	}
	return nil
}

// loadStack parses template.yaml: goformation.OpenWithOptions for the typed
// template, intrinsics.ProcessYAML with the same options for the tree.
func loadStack(t *testing.T) *stack {
	t.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := intrinsics.ProcessYAML(data, symbolic())
	if err != nil {
		t.Fatalf("resolving intrinsics in %s: %v", templatePath, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(resolved, &raw); err != nil {
		t.Fatal(err)
	}
	cf, err := parseTyped(raw)
	if err != nil {
		t.Fatalf("parsing %s with goformation: %v", templatePath, err)
	}
	return &stack{cf: cf, raw: raw}
}

// typedParams are the properties goformation types as numbers that the
// template sets from a parameter: the typed view gets the parameter's
// default there, the plain view keeps "{Param}" for the checks.
var typedParams = []string{"RetentionInDays", "Threshold"}

// parseTyped parses the plain tree with goformation.
func parseTyped(raw map[string]any) (*cloudformation.Template, error) {
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var typed map[string]any
	if err := json.Unmarshal(data, &typed); err != nil {
		return nil, err
	}
	params, _ := typed["Parameters"].(map[string]any)
	resources, _ := typed["Resources"].(map[string]any)
	for _, r := range resources {
		props, _ := r.(map[string]any)["Properties"].(map[string]any)
		for _, k := range typedParams {
			v, _ := props[k].(string)
			if id, ok := refID(v); ok {
				if p, ok := params[id].(map[string]any); ok {
					props[k] = p["Default"]
				}
			}
		}
	}
	if data, err = json.Marshal(typed); err != nil {
		return nil, err
	}
	return goformation.ParseJSONWithOptions(data, &intrinsics.ProcessorOptions{NoProcess: true})
}

// mutated returns a copy of s changed by mutate, parsed again by
// goformation so that typed and plain views agree.
func (s *stack) mutated(t *testing.T, mutate func(t *testing.T, raw map[string]any)) *stack {
	t.Helper()
	data, err := json.Marshal(s.raw)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	mutate(t, raw)
	cf, err := parseTyped(raw)
	if err != nil {
		t.Fatalf("parsing the mutated template: %v", err)
	}
	return &stack{cf: cf, raw: raw}
}

// lookup walks a dotted path ("Resources.X.Properties.Events.0") and
// returns the container holding its last element and that element's key.
func lookup(t *testing.T, raw map[string]any, path string) (container any, key string) {
	t.Helper()
	parts := strings.Split(path, ".")
	var cur any = raw
	for i, p := range parts {
		if i == len(parts)-1 {
			return cur, p
		}
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[p]
			if !ok {
				t.Fatalf("mutation: %s: no %q", path, p)
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(c) {
				t.Fatalf("mutation: %s: no index %q", path, p)
			}
			cur = c[n]
		default:
			t.Fatalf("mutation: %s: %q is not a container", path, p)
		}
	}
	return nil, ""
}

// set sets the value at path; its parent must exist.
func set(path string, v any) func(*testing.T, map[string]any) {
	return func(t *testing.T, raw map[string]any) {
		t.Helper()
		switch c, key := lookup(t, raw, path); c := c.(type) {
		case map[string]any:
			c[key] = v
		case []any:
			n, err := strconv.Atoi(key)
			if err != nil || n < 0 || n >= len(c) {
				t.Fatalf("mutation: %s: no index %q", path, key)
			}
			c[n] = v
		default:
			t.Fatalf("mutation: %s: parent is not a container", path)
		}
	}
}

// del removes the map entry at path, which must exist.
func del(path string) func(*testing.T, map[string]any) {
	return func(t *testing.T, raw map[string]any) {
		t.Helper()
		c, key := lookup(t, raw, path)
		m, ok := c.(map[string]any)
		if !ok {
			t.Fatalf("mutation: %s: parent is not a map", path)
		}
		if _, ok := m[key]; !ok {
			t.Fatalf("mutation: %s does not exist", path)
		}
		delete(m, key)
	}
}

// appendTo appends v to the list at path.
func appendTo(path string, v any) func(*testing.T, map[string]any) {
	return func(t *testing.T, raw map[string]any) {
		t.Helper()
		c, key := lookup(t, raw, path)
		m, ok := c.(map[string]any)
		if !ok {
			t.Fatalf("mutation: %s: parent is not a map", path)
		}
		list, ok := m[key].([]any)
		if !ok {
			t.Fatalf("mutation: %s is not a list", path)
		}
		m[key] = append(list, v)
	}
}

// ---- reading the template

// refID returns the logical id that a symbolic reference names: "{X}" and
// "{X.Attr}" give X.
func refID(v any) (string, bool) {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || strings.Count(s, "{") != 1 {
		return "", false
	}
	id, _, _ := strings.Cut(s[1:len(s)-1], ".")
	return id, true
}

var arnRef = regexp.MustCompile(`\{([A-Za-z0-9]+)\.Arn\}`)
var anyRef = regexp.MustCompile(`\{([A-Za-z0-9:]+)\}`)

// normResource writes a policy resource the way the expectations do:
// "{X.Arn}" and "{X}" become X, inside longer strings too.
func normResource(s string) string {
	s = arnRef.ReplaceAllString(s, "$1")
	return anyRef.ReplaceAllString(s, "$1")
}

// number resolves v, a literal or a reference to a parameter, to a number
// (a parameter's default).
func (s *stack) number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case string:
		if id, ok := refID(n); ok {
			if p, ok := s.cf.Parameters[id]; ok {
				return s.number(p.Default)
			}
			return 0, false
		}
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

// resource returns the plain tree of resource id.
func (s *stack) resource(id string) map[string]any {
	resources, _ := s.raw["Resources"].(map[string]any)
	r, _ := resources[id].(map[string]any)
	return r
}

// sqsEvent is one SAM `Type: SQS` event of a function.
type sqsEvent struct {
	Function, Name, Queue string
	Props                 map[string]any
}

// sqsEvents lists every SQS event source of every function, sorted.
func (s *stack) sqsEvents() []sqsEvent {
	var out []sqsEvent
	for fn := range s.cf.GetAllServerlessFunctionResources() {
		props, _ := s.resource(fn)["Properties"].(map[string]any)
		events, _ := props["Events"].(map[string]any)
		for name, e := range events {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "SQS" {
				continue
			}
			p, _ := ev["Properties"].(map[string]any)
			q, _ := refID(p["Queue"])
			out = append(out, sqsEvent{Function: fn, Name: name, Queue: q, Props: p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function+out[i].Name < out[j].Function+out[j].Name })
	return out
}

// httpRoutes lists "METHOD path → function" for every HttpApi event.
func (s *stack) httpRoutes() map[string]string {
	out := map[string]string{}
	for fn := range s.cf.GetAllServerlessFunctionResources() {
		props, _ := s.resource(fn)["Properties"].(map[string]any)
		events, _ := props["Events"].(map[string]any)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "HttpApi" {
				continue
			}
			p, _ := ev["Properties"].(map[string]any)
			out[fmt.Sprintf("%v %v %v", p["ApiId"], p["Method"], p["Path"])] = fn
		}
	}
	return out
}

// deadLetterTargets maps each queue with a redrive policy to the logical id
// of its dead-letter queue ("" when the policy names none).
func (s *stack) deadLetterTargets() map[string]string {
	out := map[string]string{}
	for id, q := range s.cf.GetAllSQSQueueResources() {
		rp, ok := q.RedrivePolicy.(map[string]any)
		if !ok {
			continue
		}
		dlq, _ := refID(rp["deadLetterTargetArn"])
		out[id] = dlq
	}
	return out
}

// deadLetterQueues is every queue some redrive policy or EventBridge target
// uses as its dead-letter queue.
func (s *stack) deadLetterQueues() map[string]bool {
	out := map[string]bool{}
	for _, dlq := range s.deadLetterTargets() {
		if dlq != "" {
			out[dlq] = true
		}
	}
	for _, r := range s.cf.GetAllEventsRuleResources() {
		for _, tg := range r.Targets {
			if tg.DeadLetterConfig != nil && tg.DeadLetterConfig.Arn != nil {
				if id, ok := refID(*tg.DeadLetterConfig.Arn); ok {
					out[id] = true
				}
			}
		}
	}
	return out
}

// workQueues is every queue that receives work: consumed by a function's
// SQS event source or targeted by an EventBridge rule.
func (s *stack) workQueues() map[string]bool {
	out := map[string]bool{}
	for _, e := range s.sqsEvents() {
		out[e.Queue] = true
	}
	for _, r := range s.cf.GetAllEventsRuleResources() {
		for _, tg := range r.Targets {
			if id, ok := refID(tg.Arn); ok {
				out[id] = true
			}
		}
	}
	return out
}

// statement is one IAM policy statement found in the template.
type statement struct {
	Where string // e.g. "Resources.BuildRole.Properties.Policies.0.PolicyDocument.Statement.1"
	Trust bool   // in an AssumeRolePolicyDocument
	Body  map[string]any
}

// statements finds every policy statement anywhere in the template: any
// map under a "Statement" key, whatever resource or property holds it.
func (s *stack) statements() []statement {
	var out []statement
	var walk func(v any, path string, trust bool)
	walk = func(v any, path string, trust bool) {
		switch n := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(n))
			for k := range n {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := path + "." + k
				tr := trust || k == "AssumeRolePolicyDocument"
				if k == "Statement" {
					switch st := n[k].(type) {
					case map[string]any:
						out = append(out, statement{Where: p, Trust: tr, Body: st})
					case []any:
						for i, e := range st {
							if m, ok := e.(map[string]any); ok {
								out = append(out, statement{Where: fmt.Sprintf("%s.%d", p, i), Trust: tr, Body: m})
							}
						}
					}
					continue
				}
				walk(n[k], p, tr)
			}
		case []any:
			for i, e := range n {
				walk(e, fmt.Sprintf("%s.%d", path, i), trust)
			}
		}
	}
	walk(s.raw["Resources"], "Resources", false)
	return out
}

// strs reads a string-or-list-of-strings policy element.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// roleGrants lists "action resource" for every Allow statement of an IAM
// role's inline policies, resources normalised with normResource, sorted.
func roleGrants(doc []any) []string {
	var out []string
	for _, d := range doc {
		m, _ := d.(map[string]any)
		for _, st := range statementsOf(m) {
			if st["Effect"] != "Allow" {
				continue
			}
			for _, a := range strs(st["Action"]) {
				for _, r := range strs(st["Resource"]) {
					out = append(out, a+" "+normResource(r))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func statementsOf(doc map[string]any) []map[string]any {
	switch st := doc["Statement"].(type) {
	case map[string]any:
		return []map[string]any{st}
	case []any:
		out := make([]map[string]any, 0, len(st))
		for _, e := range st {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// grants is the cross product of actions and resources as roleGrants
// writes it.
func grants(actions []string, resources ...string) []string {
	var out []string
	for _, a := range actions {
		for _, r := range resources {
			out = append(out, a+" "+r)
		}
	}
	return out
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.Strings(out)
	return out
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
