package infra_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/google/go-cmp/cmp"
)

// Each check returns the problems it finds in a stack, one sentence each;
// none means the invariant holds. template_test.go runs them on the real
// template and on mutated copies that each must fail.

// SQS defaults, for queues and functions that leave a setting out.
const (
	defaultRetention  = 345600 // 4 days
	defaultVisibility = 30
	defaultTimeout    = 3
)

// checkRedrive: every queue is either a work queue with a redrive policy to
// a dead-letter queue of its own (same FIFO-ness, a sane maxReceiveCount),
// or a dead-letter queue.
func checkRedrive(s *stack) []string {
	var problems []string
	queues := s.cf.GetAllSQSQueueResources()
	work, dlqs := s.workQueues(), s.deadLetterQueues()
	targets := s.deadLetterTargets()
	owner := map[string]string{}
	for _, id := range sortedKeys(queues) {
		q := queues[id]
		if !work[id] {
			if !dlqs[id] {
				problems = append(problems, fmt.Sprintf("queue %s is neither consumed nor anyone's dead-letter queue", id))
			}
			continue
		}
		rp, ok := q.RedrivePolicy.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("work queue %s has no RedrivePolicy", id))
			continue
		}
		dlq := targets[id]
		target, ok := queues[dlq]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("work queue %s: deadLetterTargetArn %v is not a queue of this template", id, rp["deadLetterTargetArn"]))
			continue
		case dlq == id:
			problems = append(problems, fmt.Sprintf("work queue %s is its own dead-letter queue", id))
		case work[dlq]:
			problems = append(problems, fmt.Sprintf("work queue %s dead-letters into %s, itself a work queue", id, dlq))
		case owner[dlq] != "":
			problems = append(problems, fmt.Sprintf("work queues %s and %s share the dead-letter queue %s", owner[dlq], id, dlq))
		}
		owner[dlq] = id
		if isFIFO(q.FifoQueue) != isFIFO(target.FifoQueue) {
			problems = append(problems, fmt.Sprintf("work queue %s and its dead-letter queue %s differ in FifoQueue", id, dlq))
		}
		if n, ok := s.number(rp["maxReceiveCount"]); !ok || n < 1 || n > 1000 {
			problems = append(problems, fmt.Sprintf("work queue %s: maxReceiveCount %v is not 1..1000", id, rp["maxReceiveCount"]))
		}
	}
	return problems
}

// checkBatchFailures: every SQS event source reports partial batch
// failures (otherwise one bad message fails, and retries, its whole batch)
// and caps its concurrency at a parameter of at least 2 (Lambda's minimum).
func checkBatchFailures(s *stack) []string {
	var problems []string
	events := s.sqsEvents()
	if len(events) == 0 {
		problems = append(problems, "no SQS event sources")
	}
	for _, e := range events {
		where := e.Function + "." + e.Name
		if !slices.Contains(strs(e.Props["FunctionResponseTypes"]), "ReportBatchItemFailures") {
			problems = append(problems, where+": FunctionResponseTypes lacks ReportBatchItemFailures")
		}
		sc, _ := e.Props["ScalingConfig"].(map[string]any)
		mc, ok := s.number(sc["MaximumConcurrency"])
		if !ok || mc < 2 {
			problems = append(problems, fmt.Sprintf("%s: ScalingConfig.MaximumConcurrency %v is not a number ≥ 2", where, sc["MaximumConcurrency"]))
		}
		if id, ok := refID(sc["MaximumConcurrency"]); !ok || s.cf.Parameters[id].Type != "Number" {
			problems = append(problems, where+": ScalingConfig.MaximumConcurrency is not a Number parameter")
		}
		if _, ok := s.cf.GetAllSQSQueueResources()[e.Queue]; !ok {
			problems = append(problems, fmt.Sprintf("%s: Queue %v is not a queue of this template", where, e.Props["Queue"]))
		}
	}
	return problems
}

// checkVisibility: a consumed queue's visibility timeout is at least six
// times its consumer's timeout, so a message is not redelivered while an
// invocation (with its retries by Lambda's poller) still holds it.
func checkVisibility(s *stack) []string {
	var problems []string
	queues := s.cf.GetAllSQSQueueResources()
	functions := s.cf.GetAllServerlessFunctionResources()
	for _, e := range s.sqsEvents() {
		q, ok := queues[e.Queue]
		if !ok {
			continue // checkBatchFailures reports it
		}
		vis := intOr(q.VisibilityTimeout, defaultVisibility)
		timeout := intOr(functions[e.Function].Timeout, defaultTimeout)
		if vis < 6*timeout {
			problems = append(problems, fmt.Sprintf("queue %s: VisibilityTimeout %d s < 6 × %s's Timeout %d s", e.Queue, vis, e.Function, timeout))
		}
	}
	return problems
}

// checkRetention: a dead-letter queue keeps messages longer than its
// source, because SQS keeps a moved message's original enqueue time.
func checkRetention(s *stack) []string {
	var problems []string
	queues := s.cf.GetAllSQSQueueResources()
	targets := s.deadLetterTargets()
	for _, id := range sortedKeys(targets) {
		dlq, ok := queues[targets[id]]
		if !ok {
			continue // checkRedrive reports it
		}
		src := intOr(queues[id].MessageRetentionPeriod, defaultRetention)
		dst := intOr(dlq.MessageRetentionPeriod, defaultRetention)
		if dst <= src {
			problems = append(problems, fmt.Sprintf("dead-letter queue %s keeps messages %d s, not longer than its source %s (%d s)", targets[id], dst, id, src))
		}
	}
	return problems
}

// checkMessageSize: every queue sets MaximumMessageSize explicitly (SQS's
// default has changed over time) and at least to the port's body limit.
func checkMessageSize(s *stack) []string {
	var problems []string
	queues := s.cf.GetAllSQSQueueResources()
	for _, id := range sortedKeys(queues) {
		if n := intOr(queues[id].MaximumMessageSize, 0); n < queue.MaxBodySize {
			problems = append(problems, fmt.Sprintf("queue %s: MaximumMessageSize %d is unset or below %d", id, n, queue.MaxBodySize))
		}
	}
	return problems
}

// checkNoWildcardActions: no statement anywhere names an action with a
// wildcard ("*", "sqs:*", "s3:Get*") or uses NotAction, which grants
// everything it does not list.
func checkNoWildcardActions(s *stack) []string {
	var problems []string
	for _, st := range s.statements() {
		if _, ok := st.Body["NotAction"]; ok {
			problems = append(problems, st.Where+": NotAction")
		}
		for _, a := range strs(st.Body["Action"]) {
			if strings.Contains(a, "*") || strings.Contains(a, "?") {
				problems = append(problems, fmt.Sprintf("%s: wildcard action %q", st.Where, a))
			}
		}
	}
	return problems
}

// checkNoClusterActions: Conveyor never touches a cluster, so no statement
// anywhere names an EKS action (IAM compares actions case-insensitively).
func checkNoClusterActions(s *stack) []string {
	var problems []string
	for _, st := range s.statements() {
		for _, a := range strs(st.Body["Action"]) {
			if strings.HasPrefix(strings.ToLower(a), "eks:") {
				problems = append(problems, fmt.Sprintf("%s: EKS action %q", st.Where, a))
			}
		}
	}
	return problems
}

// checkNoRoleEscalation: no permission statement grants sts:AssumeRole (or
// any sts:AssumeRole* variant) or any IAM action; trust policies are the
// one place sts:AssumeRole belongs, and checkTrustPolicies checks those.
func checkNoRoleEscalation(s *stack) []string {
	var problems []string
	for _, st := range s.statements() {
		if st.Trust {
			continue
		}
		for _, a := range strs(st.Body["Action"]) {
			l := strings.ToLower(a)
			if strings.HasPrefix(l, "sts:assumerole") || strings.HasPrefix(l, "iam:") {
				problems = append(problems, fmt.Sprintf("%s: grants %q", st.Where, a))
			}
		}
	}
	return problems
}

// checkTrustPolicies: every role may be assumed by the Lambda service only.
func checkTrustPolicies(s *stack) []string {
	var problems []string
	want := map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
	roles := s.cf.GetAllIAMRoleResources()
	for _, id := range sortedKeys(roles) {
		doc, _ := roles[id].AssumeRolePolicyDocument.(map[string]any)
		sts := statementsOf(doc)
		if len(sts) != 1 {
			problems = append(problems, fmt.Sprintf("role %s: trust policy has %d statements, want 1", id, len(sts)))
			continue
		}
		got := map[string]any{}
		for k, v := range sts[0] {
			if k != "Sid" {
				got[k] = v
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			problems = append(problems, fmt.Sprintf("role %s: trust policy is not Lambda-only (-want +got):\n%s", id, d))
		}
	}
	return problems
}

// checkResourceStar: Resource "*" (or NotResource) appears only with
// ecr:GetAuthorizationToken and X-Ray's segment uploads, which AWS cannot
// scope to a resource.
func checkResourceStar(s *stack) []string {
	var problems []string
	for _, st := range s.statements() {
		if st.Trust {
			continue
		}
		if _, ok := st.Body["NotResource"]; ok {
			problems = append(problems, st.Where+": NotResource")
		}
		if !slices.Contains(strs(st.Body["Resource"]), "*") {
			continue
		}
		for _, a := range strs(st.Body["Action"]) {
			if !slices.ContainsFunc(unscoped, func(u string) bool { return strings.EqualFold(a, u) }) {
				problems = append(problems, fmt.Sprintf("%s: %q on Resource \"*\"", st.Where, a))
			}
		}
	}
	return problems
}

// unscoped are the actions AWS grants on Resource "*" only.
var unscoped = []string{"ecr:GetAuthorizationToken", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}

// basicExecution is the only managed policy a role may carry: it grants
// CloudWatch Logs only.
const basicExecution = "arn:{AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

// checkDistinctRoles: every function runs as an explicit IAM role of this
// template that no other function shares, with no SAM Policies (which
// would make SAM build a role of its own) and no managed policy but
// AWSLambdaBasicExecutionRole.
func checkDistinctRoles(s *stack) []string {
	var problems []string
	roles := s.cf.GetAllIAMRoleResources()
	functions := s.cf.GetAllServerlessFunctionResources()
	usedBy := map[string]string{}
	for _, fn := range sortedKeys(functions) {
		f := functions[fn]
		if f.Policies != nil {
			problems = append(problems, fn+": SAM Policies instead of an explicit role")
		}
		role, ok := refID(str(f.Role))
		if _, isRole := roles[role]; !ok || !isRole {
			problems = append(problems, fmt.Sprintf("%s: Role %q is not an IAM role of this template", fn, str(f.Role)))
			continue
		}
		if other := usedBy[role]; other != "" {
			problems = append(problems, fmt.Sprintf("%s and %s share the role %s", other, fn, role))
		}
		usedBy[role] = fn
	}
	for _, id := range sortedKeys(roles) {
		if usedBy[id] == "" {
			problems = append(problems, "role "+id+" belongs to no function")
		}
		for _, arn := range roles[id].ManagedPolicyArns {
			if arn != basicExecution {
				problems = append(problems, fmt.Sprintf("role %s: managed policy %s", id, arn))
			}
		}
	}
	return problems
}

// checkLeastPrivilege: each function's role grants exactly the actions on
// exactly the resources that function needs (wantGrants).
func checkLeastPrivilege(s *stack) []string {
	var problems []string
	roles := s.cf.GetAllIAMRoleResources()
	functions := s.cf.GetAllServerlessFunctionResources()
	for _, fn := range sortedKeys(wantGrants) {
		f, ok := functions[fn]
		if !ok {
			problems = append(problems, "no function "+fn)
			continue
		}
		id, _ := refID(str(f.Role))
		role, ok := roles[id]
		if !ok {
			continue // checkDistinctRoles reports it
		}
		var docs []any
		for _, p := range role.Policies {
			docs = append(docs, p.PolicyDocument)
		}
		if d := cmp.Diff(wantGrants[fn], roleGrants(docs)); d != "" {
			problems = append(problems, fmt.Sprintf("%s (role %s) grants differ (-want +got):\n%s", fn, id, d))
		}
	}
	return problems
}

// checkAlarms: every dead-letter queue (of a work queue or of the
// EventBridge target) has an alarm on ApproximateNumberOfMessagesVisible > 0
// that notifies the optional SNS topic.
func checkAlarms(s *stack) []string {
	var problems []string
	alarmed := map[string]bool{}
	for _, a := range s.cf.GetAllCloudWatchAlarmResources() {
		if str(a.Namespace) != "AWS/SQS" || str(a.MetricName) != "ApproximateNumberOfMessagesVisible" || len(a.Dimensions) != 1 || a.Dimensions[0].Name != "QueueName" {
			continue
		}
		if a.Threshold == nil || a.EvaluationPeriods < 1 {
			continue
		}
		fires := (a.ComparisonOperator == "GreaterThanThreshold" && *a.Threshold < 1) ||
			(a.ComparisonOperator == "GreaterThanOrEqualToThreshold" && *a.Threshold <= 1 && *a.Threshold > 0)
		if !fires || !slices.Contains(a.AlarmActions, "{AlarmTopicArn}") {
			continue
		}
		if id, ok := refID(a.Dimensions[0].Value); ok {
			alarmed[id] = true
		}
	}
	for _, dlq := range sortedKeys(s.deadLetterQueues()) {
		if !alarmed[dlq] {
			problems = append(problems, "dead-letter queue "+dlq+" has no alarm on ApproximateNumberOfMessagesVisible > 0 notifying AlarmTopicArn")
		}
	}
	if len(alarmed) == 0 {
		problems = append(problems, "no dead-letter alarms at all")
	}
	return problems
}

// checkTopology: the template has one queue per queue.Topology spec, named
// as the SQS adapter names it (it derives a queue's name from its URL, and
// replay finds queues by those names), with a dead-letter queue named
// likewise, FIFO exactly when the spec is, with the spec's max receives as
// the default and consumed by the expected function. A FIFO queue
// deduplicates per message group on explicit ids, and its consumer takes
// at most 10 messages (FIFO event sources allow no more) with no batching
// window.
func checkTopology(s *stack) []string {
	var problems []string
	queues := s.cf.GetAllSQSQueueResources()
	byName := map[string]string{}
	for id, q := range queues {
		byName[str(q.QueueName)] = id
	}
	consumers := map[string][]sqsEvent{}
	for _, e := range s.sqsEvents() {
		consumers[e.Queue] = append(consumers[e.Queue], e)
	}
	for _, spec := range queue.Topology {
		name := sqsqueue.QueueName(spec)
		id, ok := byName[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("no queue named %s for topology queue %s", name, spec.Name))
			continue
		}
		q := queues[id]
		if isFIFO(q.FifoQueue) != spec.FIFO {
			problems = append(problems, fmt.Sprintf("queue %s: FifoQueue %v, topology says %v", id, isFIFO(q.FifoQueue), spec.FIFO))
		}
		if dlq := queues[s.deadLetterTargets()[id]]; dlq == nil || str(dlq.QueueName) != sqsqueue.DeadLetterQueueName(spec) {
			problems = append(problems, fmt.Sprintf("queue %s: no dead-letter queue named %s", id, sqsqueue.DeadLetterQueueName(spec)))
		}
		rp, _ := q.RedrivePolicy.(map[string]any)
		if n, _ := s.number(rp["maxReceiveCount"]); int(n) != spec.MaxReceives {
			problems = append(problems, fmt.Sprintf("queue %s: maxReceiveCount defaults to %v, topology says %d", id, n, spec.MaxReceives))
		}
		got := consumers[id]
		wantID, fn := wantConsumer(spec.Name)
		if len(got) != 1 || got[0].Function != wantID {
			problems = append(problems, fmt.Sprintf("queue %s: consumed by %v, want exactly %s", id, got, wantID))
			continue
		}
		bs, ok := s.number(got[0].Props["BatchSize"])
		if !ok || int(bs) != fn.BatchSize {
			problems = append(problems, fmt.Sprintf("queue %s: BatchSize %v, want %d (wiring.Functions)", id, got[0].Props["BatchSize"], fn.BatchSize))
		}
		if vis := intOr(q.VisibilityTimeout, defaultVisibility); vis != int(spec.Visibility.Seconds()) {
			problems = append(problems, fmt.Sprintf("queue %s: VisibilityTimeout %d s, topology says %v", id, vis, spec.Visibility))
		}
		if t := intOr(s.cf.GetAllServerlessFunctionResources()[wantID].Timeout, defaultTimeout); t != int(fn.Timeout.Seconds()) {
			problems = append(problems, fmt.Sprintf("function %s: Timeout %d s, wiring.Functions says %v", wantID, t, fn.Timeout))
		}
		if !spec.FIFO {
			continue
		}
		if !ok || bs > 10 {
			problems = append(problems, fmt.Sprintf("FIFO queue %s: consumer batch size %v > 10", id, got[0].Props["BatchSize"]))
		}
		if _, ok := got[0].Props["MaximumBatchingWindowInSeconds"]; ok {
			problems = append(problems, fmt.Sprintf("FIFO queue %s: consumer sets a batching window", id))
		}
		if q.ContentBasedDeduplication == nil || *q.ContentBasedDeduplication {
			problems = append(problems, fmt.Sprintf("FIFO queue %s: ContentBasedDeduplication must be false", id))
		}
		if str(q.DeduplicationScope) != "messageGroup" || str(q.FifoThroughputLimit) != "perMessageGroupId" {
			problems = append(problems, fmt.Sprintf("FIFO queue %s: DeduplicationScope %q / FifoThroughputLimit %q, want messageGroup / perMessageGroupId", id, str(q.DeduplicationScope), str(q.FifoThroughputLimit)))
		}
	}
	return problems
}

// checkTable: the state table has the keys and indexes the DynamoDB
// adapter uses, bills per request, expires items on ttl and keeps
// point-in-time recovery.
func checkTable(s *stack) []string {
	var problems []string
	tables := s.cf.GetAllDynamoDBTableResources()
	if len(tables) != 1 {
		return []string{fmt.Sprintf("%d DynamoDB tables, want 1", len(tables))}
	}
	for id, tb := range tables {
		var keys []string
		for _, k := range tb.KeySchema {
			keys = append(keys, k.AttributeName+" "+k.KeyType)
		}
		if d := cmp.Diff([]string{"pk HASH", "sk RANGE"}, keys); d != "" {
			problems = append(problems, fmt.Sprintf("table %s: key schema (-want +got):\n%s", id, d))
		}
		var gsi []string
		for _, g := range tb.GlobalSecondaryIndexes {
			for _, k := range g.KeySchema {
				gsi = append(gsi, g.IndexName+" "+k.AttributeName+" "+k.KeyType)
			}
			// The adapter decodes whole releases from its indexes.
			if g.Projection == nil || str(g.Projection.ProjectionType) != "ALL" {
				problems = append(problems, fmt.Sprintf("table %s: index %s does not project every attribute", id, g.IndexName))
			}
		}
		want := []string{"gsi1 gsi1pk HASH", "gsi1 gsi1sk RANGE", "gsi2 gsi2pk HASH", "gsi2 gsi2sk RANGE"}
		if d := cmp.Diff(want, gsi); d != "" {
			problems = append(problems, fmt.Sprintf("table %s: global secondary indexes (-want +got):\n%s", id, d))
		}
		if str(tb.BillingMode) != "PAY_PER_REQUEST" {
			problems = append(problems, fmt.Sprintf("table %s: BillingMode %q", id, str(tb.BillingMode)))
		}
		if ttl := tb.TimeToLiveSpecification; ttl == nil || !ttl.Enabled || str(ttl.AttributeName) != "ttl" {
			problems = append(problems, fmt.Sprintf("table %s: TTL is not enabled on attribute ttl", id))
		}
		if pitr := tb.PointInTimeRecoverySpecification; pitr == nil || pitr.PointInTimeRecoveryEnabled == nil || !*pitr.PointInTimeRecoveryEnabled {
			problems = append(problems, fmt.Sprintf("table %s: point-in-time recovery is not enabled", id))
		}
	}
	return problems
}

// checkFunctions: the six functions exist, each built by `make build` into
// ../build/<name>.zip as an arm64 bootstrap on provided.al2023.
func checkFunctions(s *stack) []string {
	var problems []string
	functions := s.cf.GetAllServerlessFunctionResources()
	var names []string
	for _, fn := range sortedKeys(functions) {
		f := functions[fn]
		names = append(names, fn)
		name := strings.ToLower(strings.TrimSuffix(fn, "Function"))
		if f.CodeUri == nil || str(f.CodeUri.String) != "../build/"+name+".zip" {
			problems = append(problems, fmt.Sprintf("%s: CodeUri is not ../build/%s.zip", fn, name))
		}
		if str(f.Runtime) != "provided.al2023" || str(f.Handler) != "bootstrap" || !reflect.DeepEqual(f.Architectures, []string{"arm64"}) {
			problems = append(problems, fmt.Sprintf("%s: want Runtime provided.al2023, Handler bootstrap, Architectures [arm64]", fn))
		}
	}
	if d := cmp.Diff(sortedKeys(wantEnv), names); d != "" {
		problems = append(problems, fmt.Sprintf("functions (-want +got):\n%s", d))
	}
	return problems
}

// checkEnvironment: each function gets exactly the variables it reads,
// each pointing at the right resource or parameter — no secret ARN or queue
// URL a function has no use for.
func checkEnvironment(s *stack) []string {
	var problems []string
	functions := s.cf.GetAllServerlessFunctionResources()
	for _, fn := range sortedKeys(wantEnv) {
		f, ok := functions[fn]
		if !ok {
			continue // checkFunctions reports it
		}
		got := map[string]string{}
		if f.Environment != nil {
			got = f.Environment.Variables
		}
		if d := cmp.Diff(wantEnv[fn], got); d != "" {
			problems = append(problems, fmt.Sprintf("%s: environment (-want +got):\n%s", fn, d))
		}
	}
	return problems
}

// checkRoutes: the HTTP API routes every ingress path to the webhook.
func checkRoutes(s *stack) []string {
	want := map[string]string{
		"{HttpApi} POST /webhooks/github":                "WebhookFunction",
		"{HttpApi} POST /webhooks/gitlab":                "WebhookFunction",
		"{HttpApi} POST /webhooks/registry/distribution": "WebhookFunction",
		"{HttpApi} POST /webhooks/registry/harbor":       "WebhookFunction",
		"{HttpApi} GET /healthz":                         "WebhookFunction",
	}
	var problems []string
	if d := cmp.Diff(want, s.httpRoutes()); d != "" {
		problems = append(problems, fmt.Sprintf("HTTP routes (-want +got):\n%s", d))
	}
	if _, ok := s.cf.GetAllServerlessHttpApiResources()["HttpApi"]; !ok {
		problems = append(problems, "no AWS::Serverless::HttpApi HttpApi")
	}
	return problems
}

// checkEcrRule: successful ECR pushes reach the images queue through an
// EventBridge rule whose target has its own dead-letter queue and retry
// policy; both queues let events.amazonaws.com send only on behalf of
// that rule.
func checkEcrRule(s *stack) []string {
	var problems []string
	wantPattern := map[string]any{
		"source":      []any{"aws.ecr"},
		"detail-type": []any{"ECR Image Action"},
		"detail":      map[string]any{"action-type": []any{"PUSH"}, "result": []any{"SUCCESS"}},
	}
	rules := s.cf.GetAllEventsRuleResources()
	var found bool
	for id, r := range rules {
		if !reflect.DeepEqual(r.EventPattern, wantPattern) {
			continue
		}
		found = true
		if len(r.Targets) != 1 {
			problems = append(problems, fmt.Sprintf("rule %s: %d targets, want 1", id, len(r.Targets)))
			continue
		}
		tg := r.Targets[0]
		if tg.Arn != "{ImagesQueue.Arn}" {
			problems = append(problems, fmt.Sprintf("rule %s targets %s, want the images queue", id, tg.Arn))
		}
		var dlq string
		if tg.DeadLetterConfig != nil {
			dlq, _ = refID(str(tg.DeadLetterConfig.Arn))
		}
		if _, ok := s.cf.GetAllSQSQueueResources()[dlq]; !ok {
			problems = append(problems, fmt.Sprintf("rule %s: target has no DeadLetterConfig to a queue of this template (EventBridge drops events after 24 h)", id))
		}
		if tg.RetryPolicy == nil {
			problems = append(problems, fmt.Sprintf("rule %s: target has no RetryPolicy", id))
		}
		for _, q := range []string{"ImagesQueue", dlq} {
			if !s.eventsMaySend(q, id) {
				problems = append(problems, fmt.Sprintf("no queue policy lets rule %s (and only it) send to %s", id, q))
			}
		}
	}
	if !found {
		problems = append(problems, "no EventBridge rule for successful ECR pushes")
	}
	return problems
}

// eventsMaySend reports whether a queue policy of queue lets
// events.amazonaws.com send to it on behalf of rule only.
func (s *stack) eventsMaySend(queueID, rule string) bool {
	want := map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "events.amazonaws.com"},
		"Action":    "sqs:SendMessage",
		"Resource":  "{" + queueID + ".Arn}",
		"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": "{" + rule + ".Arn}"}},
	}
	for _, p := range s.cf.GetAllSQSQueuePolicyResources() {
		if !slices.Equal(p.Queues, []string{"{" + queueID + "}"}) {
			continue
		}
		doc, _ := p.PolicyDocument.(map[string]any)
		for _, st := range statementsOf(doc) {
			got := map[string]any{}
			for k, v := range st {
				if k != "Sid" {
					got[k] = v
				}
			}
			if reflect.DeepEqual(want, got) {
				return true
			}
		}
	}
	return false
}

// checkOutputs: the stack tells its user where to point webhooks and where
// its queues and table are.
// checkBoardAuth: the board is served only on its function URL, which
// takes IAM-signed requests (AuthType AWS_IAM), never on the public
// webhook API or any other event source.
func checkBoardAuth(s *stack) []string {
	var problems []string
	props, _ := s.resource("BoardFunction")["Properties"].(map[string]any)
	url, _ := props["FunctionUrlConfig"].(map[string]any)
	if url["AuthType"] != "AWS_IAM" {
		problems = append(problems, fmt.Sprintf("BoardFunction: FunctionUrlConfig %v, want AuthType AWS_IAM", url))
	}
	if ev, ok := props["Events"]; ok {
		problems = append(problems, fmt.Sprintf("BoardFunction: events %v, want none: the function URL alone serves the board", ev))
	}
	return problems
}

func checkOutputs(s *stack) []string {
	var problems []string
	want := map[string]string{
		"GitHubWebhookUrl":       "https://{HttpApi}.execute-api.{AWS::Region}.{AWS::URLSuffix}/webhooks/github",
		"DistributionWebhookUrl": "https://{HttpApi}.execute-api.{AWS::Region}.{AWS::URLSuffix}/webhooks/registry/distribution",
		"HarborWebhookUrl":       "https://{HttpApi}.execute-api.{AWS::Region}.{AWS::URLSuffix}/webhooks/registry/harbor",
		"TableName":              "{Table}",
		"BoardUrl":               "{BoardFunctionUrl.FunctionUrl}",
	}
	// BuildsQueue → BuildsQueueUrl, BuildsDLQ → BuildsDLQUrl.
	for _, id := range sortedKeys(s.cf.GetAllSQSQueueResources()) {
		want[id+"Url"] = "{" + id + "}"
	}
	for _, name := range sortedKeys(want) {
		o, ok := s.cf.Outputs[name]
		if !ok || o.Value != want[name] {
			problems = append(problems, fmt.Sprintf("output %s: %v, want %s", name, o.Value, want[name]))
		}
	}
	return problems
}

func isFIFO(b *bool) bool { return b != nil && *b }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkWebhookThrottle: the GitHub webhook route has a throttle of its own
// (rate and burst), so that a flood on the registry routes, or of bad
// signatures elsewhere, cannot push GitHub's deliveries — which GitHub
// never retries — into 429; the other routes keep the stage default.
func checkWebhookThrottle(s *stack) []string {
	var problems []string
	props, _ := s.resource("WebhookFunction")["Properties"].(map[string]any)
	events, _ := props["Events"].(map[string]any)
	for name, e := range events {
		ev, _ := e.(map[string]any)
		p, _ := ev["Properties"].(map[string]any)
		rs, has := p["RouteSettings"].(map[string]any)
		if name != "GitHub" {
			if has {
				problems = append(problems, fmt.Sprintf("route %s has its own RouteSettings: only the GitHub route should", name))
			}
			continue
		}
		for _, k := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
			if n, ok := s.number(rs[k]); !ok || n <= 0 {
				problems = append(problems, fmt.Sprintf("the GitHub route has no %s of its own", k))
			}
		}
	}
	api := s.cf.GetAllServerlessHttpApiResources()["HttpApi"]
	if api == nil || api.DefaultRouteSettings == nil || api.DefaultRouteSettings.ThrottlingRateLimit == nil {
		problems = append(problems, "the HTTP API has no default route throttle for the other routes")
	}
	return problems
}

// checkReconcileSchedule: the reconcile function runs on an EventBridge
// schedule.
func checkReconcileSchedule(s *stack) []string {
	props, _ := s.resource("ReconcileFunction")["Properties"].(map[string]any)
	events, _ := props["Events"].(map[string]any)
	for _, e := range events {
		ev, _ := e.(map[string]any)
		p, _ := ev["Properties"].(map[string]any)
		if ev["Type"] == "Schedule" && p["Schedule"] != nil {
			return nil
		}
	}
	return []string{"ReconcileFunction has no Schedule event"}
}
