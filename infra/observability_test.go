package infra_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// observability are the operators' signals on AWS: JSON logs at a
// configured level and X-Ray tracing for every function, log groups with
// a retention parameter, alarms on every function's errors and throttles
// and on every work queue's oldest message, and a dashboard of it all.
var observability = []struct {
	name  string
	check func(*stack) []string
}{
	{"Globals: JSON logs at LogLevel, active tracing", checkGlobals},
	{"a log group per function with LogRetentionDays", checkLogGroups},
	{"alarms on every function's errors and throttles", checkFunctionAlarms},
	{"an alarm on every work queue's oldest message", checkQueueAgeAlarms},
	{"a dashboard of functions, queues and Conveyor's EMF metrics", checkDashboard},
}

func TestObservability(t *testing.T) {
	s := loadStack(t)
	for _, c := range observability {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.check(s) {
				t.Error(p)
			}
		})
	}
}

func TestObservabilityChecksCatchMutations(t *testing.T) {
	const logging = "Globals.Function.LoggingConfig"
	for _, tc := range []struct {
		name   string
		check  func(*stack) []string
		mutate func(*testing.T, map[string]any)
	}{
		{"tracing passed through", checkGlobals, set("Globals.Function.Tracing", "PassThrough")},
		{"text logs", checkGlobals, set(logging+".LogFormat", "Text")},
		{"log level fixed", checkGlobals, set(logging+".ApplicationLogLevel", "DEBUG")},
		{"a function untraced", checkGlobals, set("Resources.PromoteFunction.Properties.Tracing", "PassThrough")},
		{"log group kept forever", checkLogGroups, del("Resources.BuildLogGroup.Properties.RetentionInDays")},
		{"log group retention fixed", checkLogGroups, set("Resources.NotifyLogGroup.Properties.RetentionInDays", 7)},
		{"log group of another function", checkLogGroups, set("Resources.ReplayLogGroup.Properties.LogGroupName", "/aws/lambda/{BoardFunction}")},
		{"no errors alarm", checkFunctionAlarms, del("Resources.PromoteErrorsAlarm")},
		{"throttles alarm silent", checkFunctionAlarms, del("Resources.NotifyThrottlesAlarm.Properties.AlarmActions")},
		{"errors alarm on the wrong metric", checkFunctionAlarms, set("Resources.WebhookErrorsAlarm.Properties.MetricName", "Invocations")},
		{"no age alarm", checkQueueAgeAlarms, del("Resources.NotificationsAgeAlarm")},
		{"age alarm fixed threshold", checkQueueAgeAlarms, set("Resources.BuildsAgeAlarm.Properties.Threshold", 10)},
		{"no dashboard", checkDashboard, del("Resources.Dashboard")},
		{"dashboard without a queue", checkDashboard, set("Resources.Dashboard.Properties.DashboardBody", `{"widgets":[]}`)},
		{"dashboard with a misspelt metric", checkDashboard, edit("Resources.Dashboard.Properties.DashboardBody", "conveyor_forge_ratelimit_wait_seconds", "conveyor_forge_rate_limit_wait_seconds")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadStack(t)
			if got := tc.check(s); len(got) != 0 {
				t.Fatalf("the original already fails: %v", got)
			}
			if got := tc.check(s.mutated(t, tc.mutate)); len(got) == 0 {
				t.Errorf("the check did not notice: %s", tc.name)
			}
		})
	}
}

// checkGlobals: every function traces actively and logs JSON at LogLevel,
// set once in Globals and overridden by none.
func checkGlobals(s *stack) []string {
	var problems []string
	g, _ := s.raw["Globals"].(map[string]any)
	fn, _ := g["Function"].(map[string]any)
	if fn["Tracing"] != "Active" {
		problems = append(problems, fmt.Sprintf("Globals.Function.Tracing %v, want Active", fn["Tracing"]))
	}
	lc, _ := fn["LoggingConfig"].(map[string]any)
	if lc["LogFormat"] != "JSON" || lc["ApplicationLogLevel"] != "{LogLevel}" {
		problems = append(problems, fmt.Sprintf("Globals.Function.LoggingConfig %v, want LogFormat JSON and ApplicationLogLevel from LogLevel", lc))
	}
	if p, ok := s.cf.Parameters["LogLevel"]; !ok || !slices.Contains(p.AllowedValues, any("DEBUG")) {
		problems = append(problems, "no LogLevel parameter with the Lambda levels")
	}
	for _, id := range sortedKeys(s.cf.GetAllServerlessFunctionResources()) {
		props, _ := s.resource(id)["Properties"].(map[string]any)
		if t, ok := props["Tracing"]; ok && t != "Active" {
			problems = append(problems, fmt.Sprintf("%s: Tracing %v overrides Globals", id, t))
		}
		if lc, ok := props["LoggingConfig"].(map[string]any); ok {
			if f, ok := lc["LogFormat"]; ok && f != "JSON" {
				problems = append(problems, fmt.Sprintf("%s: LogFormat %v overrides Globals", id, f))
			}
		}
	}
	return problems
}

// checkLogGroups: each function's log group exists in the template (so
// the stack owns and deletes it) and keeps LogRetentionDays.
func checkLogGroups(s *stack) []string {
	var problems []string
	groups := map[string]string{} // log group name → retention
	resources, _ := s.raw["Resources"].(map[string]any)
	for _, r := range resources {
		r, _ := r.(map[string]any)
		if r["Type"] != "AWS::Logs::LogGroup" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		groups[fmt.Sprint(props["LogGroupName"])] = fmt.Sprint(props["RetentionInDays"])
	}
	for _, id := range sortedKeys(s.cf.GetAllServerlessFunctionResources()) {
		name := "/aws/lambda/{" + id + "}"
		if ret, ok := groups[name]; !ok || ret != "{LogRetentionDays}" {
			problems = append(problems, fmt.Sprintf("%s: log group %s with RetentionInDays %q, want one kept LogRetentionDays", id, name, ret))
		}
	}
	return problems
}

// alarmed returns, for alarms on namespace/metric over one dimension that
// fire above threshold and notify AlarmTopicArn, the dimension values and
// their thresholds.
func (s *stack) alarmed(namespace, metric, dimension string) map[string]string {
	out := map[string]string{}
	for id, a := range s.cf.GetAllCloudWatchAlarmResources() {
		if str(a.Namespace) != namespace || str(a.MetricName) != metric || len(a.Dimensions) != 1 || a.Dimensions[0].Name != dimension {
			continue
		}
		if a.ComparisonOperator != "GreaterThanThreshold" || a.EvaluationPeriods < 1 || !slices.Contains(a.AlarmActions, "{AlarmTopicArn}") {
			continue
		}
		props, _ := s.resource(id)["Properties"].(map[string]any)
		out[a.Dimensions[0].Value] = fmt.Sprint(props["Threshold"])
	}
	return out
}

// checkFunctionAlarms: every function has an alarm on any error and on
// any throttle.
func checkFunctionAlarms(s *stack) []string {
	var problems []string
	for _, metric := range []string{"Errors", "Throttles"} {
		got := s.alarmed("AWS/Lambda", metric, "FunctionName")
		for _, id := range sortedKeys(s.cf.GetAllServerlessFunctionResources()) {
			if th, ok := got["{"+id+"}"]; !ok || th != "0" {
				problems = append(problems, fmt.Sprintf("%s: no alarm on %s > 0 notifying AlarmTopicArn", id, metric))
			}
		}
	}
	return problems
}

// checkQueueAgeAlarms: every work queue has an alarm on the age of its
// oldest message, above a parameter operators can tune.
func checkQueueAgeAlarms(s *stack) []string {
	var problems []string
	got := s.alarmed("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName")
	for _, q := range sortedKeys(s.workQueues()) {
		th, ok := got["{"+q+".QueueName}"]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no alarm on ApproximateAgeOfOldestMessage notifying AlarmTopicArn", q))
			continue
		}
		if id, isRef := refID(th); !isRef || s.cf.Parameters[id].Type != "Number" {
			problems = append(problems, fmt.Sprintf("%s: age alarm threshold %s is not a Number parameter", q, th))
		}
	}
	return problems
}

// dashboardMetrics are the EMF metrics (shared/metrics, written by every
// function after each invocation) the dashboard must show.
var dashboardMetrics = []string{
	"conveyor_events_received_total", "conveyor_events_refused_total", "conveyor_promotions_total",
	"conveyor_build_duration_seconds", "conveyor_build_pushed_bytes_total",
	"conveyor_forge_requests_total", "conveyor_forge_ratelimit_wait_seconds", "conveyor_registry_requests_total",
}

// checkDashboard: one dashboard whose body is JSON and shows every
// function, every work queue and the EMF metrics.
func checkDashboard(s *stack) []string {
	var bodies []string
	resources, _ := s.raw["Resources"].(map[string]any)
	for _, r := range resources {
		r, _ := r.(map[string]any)
		if r["Type"] == "AWS::CloudWatch::Dashboard" {
			props, _ := r["Properties"].(map[string]any)
			bodies = append(bodies, fmt.Sprint(props["DashboardBody"]))
		}
	}
	if len(bodies) != 1 {
		return []string{fmt.Sprintf("%d dashboards, want 1", len(bodies))}
	}
	var doc struct {
		Widgets []json.RawMessage `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &doc); err != nil || len(doc.Widgets) == 0 {
		return []string{fmt.Sprintf("dashboard body is not JSON with widgets: %v", err)}
	}
	var problems []string
	for _, id := range sortedKeys(s.cf.GetAllServerlessFunctionResources()) {
		if !strings.Contains(bodies[0], `"{`+id+`}"`) {
			problems = append(problems, "the dashboard does not show "+id)
		}
	}
	for _, q := range sortedKeys(s.workQueues()) {
		if !strings.Contains(bodies[0], `"{`+q+`.QueueName}"`) {
			problems = append(problems, "the dashboard does not show "+q)
		}
	}
	for _, m := range dashboardMetrics {
		if !strings.Contains(bodies[0], `["Conveyor","`+m+`"`) {
			problems = append(problems, "the dashboard does not show "+m)
		}
	}
	return problems
}

// edit replaces old with new in the string at path.
func edit(path, old, new string) func(*testing.T, map[string]any) {
	return func(t *testing.T, raw map[string]any) {
		t.Helper()
		c, key := lookup(t, raw, path)
		m, _ := c.(map[string]any)
		v, ok := m[key].(string)
		if !ok || !strings.Contains(v, old) {
			t.Fatalf("mutation: %s holds no %q", path, old)
		}
		m[key] = strings.ReplaceAll(v, old, new)
	}
}
