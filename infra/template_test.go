package infra_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/conveyor-gitops/conveyor/shared/wiring"
	"github.com/google/go-cmp/cmp"
)

// What each function may do (DESIGN.md invariant 8), as "action resource"
// with resources written by normResource: a logical id, a parameter name,
// or an ARN pattern.
var (
	consume  = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
	send     = []string{"sqs:SendMessage"}
	stateRW  = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
	secret   = []string{"secretsmanager:GetSecretValue"}
	ecrLogin = grants([]string{"ecr:GetAuthorizationToken"}, "*")
	// tracing lets Lambda's active tracing put X-Ray segments.
	tracing = grants([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, "*")
	ecrRepo = "arn:AWS::Partition:ecr:AWS::Region:AWS::AccountId:repository/EcrRepositoryPattern"
	ecrPull = []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
	ecrPush = []string{"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"}
	table   = []string{"Table", "Table/index/gsi1"}
	// tableByPR adds the index of releases by pull request, which only the
	// board's pull request page reads (and the operator, who reads all).
	tableByPR = append(slices.Clone(table), "Table/index/gsi2")
	// Only on a stack with SigningKeyArn: build signs with exactly that
	// key, promote reads its public key to verify, nobody else touches it.
	kmsSign   = grants([]string{"kms:Sign", "kms:GetPublicKey"}, "SigningKeyArn")
	kmsVerify = grants([]string{"kms:GetPublicKey"}, "SigningKeyArn")
)

var wantGrants = map[string][]string{
	"WebhookFunction": concat(
		tracing,
		grants(send, "BuildsQueue", "ImagesQueue", "ApprovalsQueue"),
		grants([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, "Table"),
		grants(secret, "GitHubWebhookSecretArn", "RegistryWebhookTokenArn", "GitLabWebhookTokenArn"),
	),
	"BuildFunction": concat(
		tracing,
		grants(consume, "BuildsQueue"),
		grants(send, "BuildsDLQ", "NotificationsQueue"),
		grants(stateRW, table...),
		ecrLogin,
		grants(append(ecrPush, ecrPull...), ecrRepo),
		grants(secret, "GitHubAppPrivateKeyArn", "GiteaTokenArn", "GitLabTokenArn"),
		kmsSign,
	),
	"RegistryFunction": concat(
		tracing,
		grants(consume, "ImagesQueue"),
		grants(send, "ImagesDLQ", "PromotionsQueue", "NotificationsQueue"),
		grants(stateRW, table...),
		ecrLogin,
		grants(ecrPull, ecrRepo),
		grants(secret, "GitHubAppPrivateKeyArn", "GiteaTokenArn", "GitLabTokenArn"),
	),
	"PromoteFunction": concat(
		tracing,
		grants(consume, "PromotionsQueue"),
		grants(send, "PromotionsDLQ", "NotificationsQueue"),
		grants(stateRW, table...),
		ecrLogin,
		grants(ecrPull, ecrRepo),
		grants(secret, "GitHubAppPrivateKeyArn", "GiteaTokenArn", "GitLabTokenArn"),
		kmsVerify,
	),
	"ApprovalFunction": concat(
		tracing,
		grants(consume, "ApprovalsQueue"),
		grants(send, "ApprovalsDLQ", "PromotionsQueue", "NotificationsQueue"),
		grants(stateRW, table...),
		ecrLogin,
		grants(append(append([]string(nil), ecrPull...), "ecr:PutImage"), ecrRepo),
		grants(secret, "GitHubAppPrivateKeyArn", "GiteaTokenArn", "GitLabTokenArn"),
	),
	"NotifyFunction": concat(
		tracing,
		grants(consume, "NotificationsQueue"),
		grants(send, "NotificationsDLQ"),
		grants(stateRW, table...),
		// The receivers' secrets: no other function reads them.
		grants(secret, "GitHubAppPrivateKeyArn", "GiteaTokenArn", "GitLabTokenArn", "NotificationSecretsArn"),
	),
	"ReconcileFunction": concat(
		tracing,
		grants(send, "BuildsQueue", "PromotionsQueue"),
		grants(stateRW, table...),
		grants(secret, "GitHubAppPrivateKeyArn", "GiteaTokenArn", "GitLabTokenArn"),
	),
	"BoardFunction": concat(
		tracing,
		grants([]string{"dynamodb:GetItem", "dynamodb:Query"}, tableByPR...),
		grants([]string{"sqs:GetQueueAttributes"}, "BuildsQueue", "BuildsDLQ", "ImagesQueue", "ImagesDLQ", "PromotionsQueue", "PromotionsDLQ", "ApprovalsQueue", "ApprovalsDLQ",
			"NotificationsQueue", "NotificationsDLQ"),
		grants(secret, "GitHubAppPrivateKeyArn", "GiteaTokenArn", "GitLabTokenArn"),
	),
	"ReplayFunction": concat(
		tracing,
		grants(consume, "BuildsDLQ", "ImagesDLQ", "PromotionsDLQ", "ApprovalsDLQ", "NotificationsDLQ"),
		grants([]string{"sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"}, "BuildsDLQ", "ImagesDLQ", "PromotionsDLQ", "ApprovalsDLQ", "NotificationsDLQ"),
		grants([]string{"sqs:SendMessage", "sqs:GetQueueAttributes"}, "BuildsQueue", "ImagesQueue", "PromotionsQueue", "ApprovalsQueue", "NotificationsQueue"),
		grants(stateRW, table...),
	),
}

// What the operator CLI may do on a stack (OperatorPolicy): the only grant
// of dynamodb:Scan, attached to no function's role.
var wantOperatorGrants = concat(
	grants([]string{"cloudformation:DescribeStacks"}, "AWS::StackId"),
	grants([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"}, tableByPR...),
	grants([]string{"sqs:GetQueueAttributes"}, "BuildsQueue", "ImagesQueue", "PromotionsQueue", "ApprovalsQueue", "NotificationsQueue",
		"BuildsDLQ", "ImagesDLQ", "PromotionsDLQ", "ApprovalsDLQ", "NotificationsDLQ"),
	grants([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"},
		"BuildsDLQ", "ImagesDLQ", "PromotionsDLQ", "ApprovalsDLQ", "NotificationsDLQ"),
	grants(send, "BuildsQueue", "ImagesQueue", "PromotionsQueue", "ApprovalsQueue", "NotificationsQueue"),
	ecrLogin,
	grants(ecrPull, ecrRepo),
	grants([]string{"lambda:InvokeFunctionUrl"}, "BoardFunction"),
	// conveyor promote --stack verifies provenance as the promote function does.
	grants([]string{"kms:GetPublicKey"}, "SigningKeyArn"),
)

// What each function reads from its environment.
var (
	githubApp = map[string]string{
		"CONVEYOR_GITHUB_APP_ID":          "{GitHubAppId}",
		"CONVEYOR_GITHUB_INSTALLATION_ID": "{GitHubInstallationId}",
		"CONVEYOR_GITHUB_APP_KEY_ARN":     "{GitHubAppPrivateKeyArn}",
		"CONVEYOR_GITOPS_REPO":            "{GitOpsRepoUrl}",
		"CONVEYOR_FORGE":                  "{Forge}",
		"CONVEYOR_FORGE_URL":              "{ForgeUrl}",
		"CONVEYOR_GITEA_TOKEN_ARN":        "{GiteaTokenArn}",
		"CONVEYOR_GITLAB_TOKEN_ARN":       "{GitLabTokenArn}",
	}
	// attestation is what build writes into provenance and promote checks
	// it against: the same builder (this stack) and the same key.
	attestation = map[string]string{
		"CONVEYOR_BUILDER_ID":  "arn:{AWS::Partition}:cloudformation:{AWS::Region}:{AWS::AccountId}:stack/{AWS::StackName}",
		"CONVEYOR_SIGNING_KEY": "awskms:///{SigningKeyArn}",
	}
	wantEnv = map[string]map[string]string{
		"WebhookFunction": {
			"CONVEYOR_BUILDS_QUEUE_URL":           "{BuildsQueue}",
			"CONVEYOR_IMAGES_QUEUE_URL":           "{ImagesQueue}",
			"CONVEYOR_APPROVALS_QUEUE_URL":        "{ApprovalsQueue}",
			"CONVEYOR_TABLE":                      "{Table}",
			"CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN":  "{GitHubWebhookSecretArn}",
			"CONVEYOR_REGISTRY_WEBHOOK_TOKEN_ARN": "{RegistryWebhookTokenArn}",
			"CONVEYOR_GITLAB_WEBHOOK_TOKEN_ARN":   "{GitLabWebhookTokenArn}",
		},
		"BuildFunction": with(with(githubApp, attestation), map[string]string{
			"CONVEYOR_NOTIFICATIONS_QUEUE_URL": "{NotificationsQueue}",
			"CONVEYOR_BUILDS_QUEUE_URL":        "{BuildsQueue}",
			"CONVEYOR_BUILDS_DLQ_URL":          "{BuildsDLQ}",
			"CONVEYOR_TABLE":                   "{Table}",
		}),
		"RegistryFunction": with(githubApp, map[string]string{
			"CONVEYOR_NOTIFICATIONS_QUEUE_URL": "{NotificationsQueue}",
			"CONVEYOR_IMAGES_QUEUE_URL":        "{ImagesQueue}",
			"CONVEYOR_IMAGES_DLQ_URL":          "{ImagesDLQ}",
			"CONVEYOR_PROMOTIONS_QUEUE_URL":    "{PromotionsQueue}",
			"CONVEYOR_TABLE":                   "{Table}",
		}),
		"PromoteFunction": with(with(githubApp, attestation), map[string]string{
			"CONVEYOR_NOTIFICATIONS_QUEUE_URL": "{NotificationsQueue}",
			"CONVEYOR_PROMOTIONS_QUEUE_URL":    "{PromotionsQueue}",
			"CONVEYOR_PROMOTIONS_DLQ_URL":      "{PromotionsDLQ}",
			"CONVEYOR_TABLE":                   "{Table}",
			"CONVEYOR_STACK":                   "{AWS::StackName}",
		}),
		"ApprovalFunction": with(githubApp, map[string]string{
			"CONVEYOR_NOTIFICATIONS_QUEUE_URL": "{NotificationsQueue}",
			"CONVEYOR_APPROVALS_QUEUE_URL":     "{ApprovalsQueue}",
			"CONVEYOR_APPROVALS_DLQ_URL":       "{ApprovalsDLQ}",
			"CONVEYOR_PROMOTIONS_QUEUE_URL":    "{PromotionsQueue}",
			"CONVEYOR_TABLE":                   "{Table}",
		}),
		"NotifyFunction": with(githubApp, map[string]string{
			"CONVEYOR_NOTIFICATIONS_QUEUE_URL": "{NotificationsQueue}",
			"CONVEYOR_NOTIFICATIONS_DLQ_URL":   "{NotificationsDLQ}",
			"CONVEYOR_TABLE":                   "{Table}",
			"CONVEYOR_NOTIFY_SECRETS_ARN":      "{NotificationSecretsArn}",
		}),
		"ReconcileFunction": with(githubApp, map[string]string{
			"CONVEYOR_BUILDS_QUEUE_URL":     "{BuildsQueue}",
			"CONVEYOR_PROMOTIONS_QUEUE_URL": "{PromotionsQueue}",
			"CONVEYOR_TABLE":                "{Table}",
			"CONVEYOR_RECONCILE_RATE":       "{ReconcileRatePerMinute}",
		}),
		// The board reads the GitOps repository as the GitHub App; it has
		// no forge of its own (no CONVEYOR_FORGE*, no Gitea token).
		"BoardFunction": with(githubApp, map[string]string{
			"CONVEYOR_BUILDS_QUEUE_URL":        "{BuildsQueue}",
			"CONVEYOR_BUILDS_DLQ_URL":          "{BuildsDLQ}",
			"CONVEYOR_IMAGES_QUEUE_URL":        "{ImagesQueue}",
			"CONVEYOR_IMAGES_DLQ_URL":          "{ImagesDLQ}",
			"CONVEYOR_PROMOTIONS_QUEUE_URL":    "{PromotionsQueue}",
			"CONVEYOR_PROMOTIONS_DLQ_URL":      "{PromotionsDLQ}",
			"CONVEYOR_APPROVALS_QUEUE_URL":     "{ApprovalsQueue}",
			"CONVEYOR_APPROVALS_DLQ_URL":       "{ApprovalsDLQ}",
			"CONVEYOR_NOTIFICATIONS_QUEUE_URL": "{NotificationsQueue}",
			"CONVEYOR_NOTIFICATIONS_DLQ_URL":   "{NotificationsDLQ}",
			"CONVEYOR_TABLE":                   "{Table}",
		}),
		"ReplayFunction": {
			"CONVEYOR_BUILDS_QUEUE_URL":        "{BuildsQueue}",
			"CONVEYOR_BUILDS_DLQ_URL":          "{BuildsDLQ}",
			"CONVEYOR_IMAGES_QUEUE_URL":        "{ImagesQueue}",
			"CONVEYOR_IMAGES_DLQ_URL":          "{ImagesDLQ}",
			"CONVEYOR_PROMOTIONS_QUEUE_URL":    "{PromotionsQueue}",
			"CONVEYOR_PROMOTIONS_DLQ_URL":      "{PromotionsDLQ}",
			"CONVEYOR_APPROVALS_QUEUE_URL":     "{ApprovalsQueue}",
			"CONVEYOR_APPROVALS_DLQ_URL":       "{ApprovalsDLQ}",
			"CONVEYOR_NOTIFICATIONS_QUEUE_URL": "{NotificationsQueue}",
			"CONVEYOR_NOTIFICATIONS_DLQ_URL":   "{NotificationsDLQ}",
			"CONVEYOR_TABLE":                   "{Table}",
		},
	}
)

// wantConsumer is the table both runtimes read (wiring.Functions): the
// function consuming topology queue q, and its logical id in the template
// (functions/build is BuildFunction).
func wantConsumer(q string) (id string, f wiring.Function) {
	for _, f := range wiring.Functions {
		if f.Queue == q {
			return strings.ToUpper(f.Name[:1]) + f.Name[1:] + "Function", f
		}
	}
	return "", wiring.Function{}
}

func with(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

var invariants = []struct {
	name  string
	check func(*stack) []string
}{
	{"work queues redrive to their own DLQ", checkRedrive},
	{"SQS event sources report batch item failures", checkBatchFailures},
	{"visibility at least 6x the consumer's timeout", checkVisibility},
	{"DLQ retention exceeds source retention", checkRetention},
	{"maximum message size set explicitly", checkMessageSize},
	{"no wildcard action", checkNoWildcardActions},
	{"no EKS action", checkNoClusterActions},
	{"no sts:AssumeRole or IAM grant", checkNoRoleEscalation},
	{"roles trust Lambda only", checkTrustPolicies},
	{"Resource * only for ecr:GetAuthorizationToken", checkResourceStar},
	{"one distinct role per function", checkDistinctRoles},
	{"least privilege per function", checkLeastPrivilege},
	{"the operator policy, attached to no role", checkOperatorPolicy},
	{"an alarm on every DLQ", checkAlarms},
	{"queues match the topology; FIFO settings", checkTopology},
	{"table keys, TTL and PITR", checkTable},
	{"functions are make build's arm64 zips", checkFunctions},
	{"environment per function", checkEnvironment},
	{"HTTP routes", checkRoutes},
	{"the board is IAM-authorised and read-only", checkBoardAuth},
	{"the GitHub webhook route throttled apart", checkWebhookThrottle},
	{"reconciliation on a schedule", checkReconcileSchedule},
	{"ECR push rule with DLQ and queue policies", checkEcrRule},
	{"outputs", checkOutputs},
	{"signing key and builder id", checkSigning},
	{"ECR lifecycle template is conveyor lifecycle-policy's", checkLifecycleTemplate},
}

func TestTemplateInvariants(t *testing.T) {
	s := loadStack(t)
	for _, inv := range invariants {
		t.Run(inv.name, func(t *testing.T) {
			for _, p := range inv.check(s) {
				t.Error(p)
			}
		})
	}
}

// TestChecksCatchMutations breaks the template one way at a time and
// expects the matching check to notice: a check that cannot fail proves
// nothing.
func TestChecksCatchMutations(t *testing.T) {
	const (
		webhookPolicy = "Resources.WebhookRole.Properties.Policies.0.PolicyDocument.Statement"
		buildPolicy   = "Resources.BuildRole.Properties.Policies.0.PolicyDocument.Statement"
		replayPolicy  = "Resources.ReplayRole.Properties.Policies.0.PolicyDocument.Statement"
		promoteEvent  = "Resources.PromoteFunction.Properties.Events.Promotions.Properties"
	)
	allow := func(action, resource any) map[string]any {
		return map[string]any{"Effect": "Allow", "Action": action, "Resource": resource}
	}
	tests := []struct {
		name   string
		check  func(*stack) []string
		mutate func(*testing.T, map[string]any)
	}{
		{"redrive policy removed", checkRedrive, del("Resources.BuildsQueue.Properties.RedrivePolicy")},
		{"two queues share a DLQ", checkRedrive, set("Resources.ImagesQueue.Properties.RedrivePolicy.deadLetterTargetArn", "{BuildsDLQ.Arn}")},
		{"queue dead-letters into itself", checkRedrive, set("Resources.ApprovalsQueue.Properties.RedrivePolicy.deadLetterTargetArn", "{ApprovalsQueue.Arn}")},
		{"FIFO queue with a standard DLQ", checkRedrive, del("Resources.PromotionsDLQ.Properties.FifoQueue")},
		{"maxReceiveCount zero", checkRedrive, set("Resources.BuildsQueue.Properties.RedrivePolicy.maxReceiveCount", 0)},
		{"no ReportBatchItemFailures", checkBatchFailures, del(promoteEvent + ".FunctionResponseTypes")},
		{"no MaximumConcurrency", checkBatchFailures, del(promoteEvent + ".ScalingConfig")},
		{"MaximumConcurrency literal", checkBatchFailures, set(promoteEvent+".ScalingConfig.MaximumConcurrency", 4)},
		{"visibility below 6x timeout", checkVisibility, set("Resources.BuildsQueue.Properties.VisibilityTimeout", 900)},
		{"timeout raised past visibility", checkVisibility, set("Resources.RegistryFunction.Properties.Timeout", 120)},
		{"visibility left at the default", checkVisibility, del("Resources.ApprovalsQueue.Properties.VisibilityTimeout")},
		{"DLQ retention equal to source", checkRetention, set("Resources.BuildsDLQ.Properties.MessageRetentionPeriod", 345600)},
		{"DLQ retention left at the default", checkRetention, del("Resources.ImagesDLQ.Properties.MessageRetentionPeriod")},
		{"message size unset", checkMessageSize, del("Resources.ImagesQueue.Properties.MaximumMessageSize")},
		{"sqs:*", checkNoWildcardActions, appendTo(webhookPolicy, allow("sqs:*", "{BuildsQueue.Arn}"))},
		{"*", checkNoWildcardActions, appendTo(webhookPolicy, allow([]any{"*"}, "{BuildsQueue.Arn}"))},
		{"partial wildcard", checkNoWildcardActions, appendTo(buildPolicy, allow("ecr:Put*", "*"))},
		{"NotAction", checkNoWildcardActions, appendTo(webhookPolicy, map[string]any{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})},
		{"wildcard in a queue policy", checkNoWildcardActions, set("Resources.ImagesQueuePolicy.Properties.PolicyDocument.Statement.0.Action", "sqs:*")},
		{"eks action", checkNoClusterActions, appendTo(buildPolicy, allow("eks:DescribeCluster", "*"))},
		{"EKS action in capitals", checkNoClusterActions, appendTo(buildPolicy, allow([]any{"EKS:ListClusters"}, "*"))},
		{"sts:AssumeRole granted", checkNoRoleEscalation, appendTo(replayPolicy, allow("sts:AssumeRole", "*"))},
		{"sts:AssumeRoleWithWebIdentity granted", checkNoRoleEscalation, appendTo(replayPolicy, allow("STS:AssumeRoleWithWebIdentity", "*"))},
		{"iam:PassRole granted", checkNoRoleEscalation, appendTo(replayPolicy, allow("iam:PassRole", "*"))},
		{"trust policy open to anyone", checkTrustPolicies, set("Resources.BuildRole.Properties.AssumeRolePolicyDocument.Statement.0.Principal", "*")},
		{"sqs on Resource *", checkResourceStar, set(webhookPolicy+".1.Resource", "*")},
		{"S3 beside X-Ray on Resource *", checkResourceStar, appendTo(webhookPolicy+".0.Action", "s3:GetObject")},
		{"shared role", checkDistinctRoles, set("Resources.PromoteFunction.Properties.Role", "{BuildRole.Arn}")},
		{"role outside the template", checkDistinctRoles, set("Resources.ReplayFunction.Properties.Role", "arn:aws:iam::123456789012:role/admin")},
		{"SAM policies", checkDistinctRoles, set("Resources.WebhookFunction.Properties.Policies", []any{"AmazonSQSFullAccess"})},
		{"managed admin policy", checkDistinctRoles, appendTo("Resources.WebhookRole.Properties.ManagedPolicyArns", "arn:aws:iam::aws:policy/AdministratorAccess")},
		{"webhook may send promotions", checkLeastPrivilege, appendTo(webhookPolicy, allow("sqs:SendMessage", "{PromotionsQueue.Arn}"))},
		{"build may push anywhere", checkLeastPrivilege, set(buildPolicy+".4.Resource", "arn:aws:ecr:us-east-1:123456789012:repository/other")},
		{"promote lost its DLQ", checkLeastPrivilege, del("Resources.PromoteRole.Properties.Policies.0.PolicyDocument.Statement.1.Action")},
		{"scan granted to a function", checkLeastPrivilege, appendTo(replayPolicy, allow("dynamodb:Scan", "{Table.Arn}"))},
		{"operator policy on a function's role", checkOperatorPolicy, set("Resources.OperatorPolicy.Properties.Roles", []any{"{PromoteRole}"})},
		{"operator policy lost scan", checkOperatorPolicy, set("Resources.OperatorPolicy.Properties.PolicyDocument.Statement.1.Action", []any{"dynamodb:Query"})},
		{"DLQ alarm removed", checkAlarms, del("Resources.ImagesDLQAlarm")},
		{"EventBridge DLQ alarm removed", checkAlarms, del("Resources.EcrEventsDLQAlarm")},
		{"alarm threshold too high", checkAlarms, set("Resources.BuildsDLQAlarm.Properties.Threshold", 10)},
		{"alarm notifies no one", checkAlarms, del("Resources.PromotionsDLQAlarm.Properties.AlarmActions")},
		{"promotions not FIFO", checkTopology, del("Resources.PromotionsQueue.Properties.FifoQueue")},
		{"FIFO batch over 10", checkTopology, set(promoteEvent+".BatchSize", 11)},
		{"FIFO batching window", checkTopology, set(promoteEvent+".MaximumBatchingWindowInSeconds", 5)},
		{"content-based deduplication", checkTopology, set("Resources.PromotionsQueue.Properties.ContentBasedDeduplication", true)},
		{"dedupe per queue", checkTopology, set("Resources.PromotionsQueue.Properties.DeduplicationScope", "queue")},
		{"builds consumed by the wrong function", checkTopology, set("Resources.BuildFunction.Properties.Events.Builds.Properties.Queue", "{ImagesQueue.Arn}")},
		{"max receives differ from the topology", checkTopology, set("Parameters.MaxReceiveCount.Default", 3)},
		{"queue renamed", checkTopology, set("Resources.ImagesQueue.Properties.QueueName", "conveyor-images")},
		{"DLQ renamed", checkTopology, set("Resources.BuildsDLQ.Properties.QueueName", "builds-dead")},
		{"TTL removed", checkTable, del("Resources.Table.Properties.TimeToLiveSpecification")},
		{"PITR disabled", checkTable, set("Resources.Table.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled", false)},
		{"GSI removed", checkTable, del("Resources.Table.Properties.GlobalSecondaryIndexes")},
		{"gsi2 renamed", checkTable, set("Resources.Table.Properties.GlobalSecondaryIndexes.1.IndexName", "byPR")},
		{"gsi2 keeps only keys", checkTable, set("Resources.Table.Properties.GlobalSecondaryIndexes.1.Projection.ProjectionType", "KEYS_ONLY")},
		{"board cannot read gsi2", checkLeastPrivilege, set("Resources.BoardRole.Properties.Policies.0.PolicyDocument.Statement.1.Resource",
			[]any{"{Table.Arn}", "{Table.Arn}/index/gsi1"})},
		{"provisioned billing", checkTable, set("Resources.Table.Properties.BillingMode", "PROVISIONED")},
		{"x86 function", checkFunctions, set("Resources.BuildFunction.Properties.Architectures", []any{"x86_64"})},
		{"function removed", checkFunctions, del("Resources.ReplayFunction")},
		{"webhook sees the App key", checkEnvironment, set("Resources.WebhookFunction.Properties.Environment.Variables.CONVEYOR_GITHUB_APP_KEY_ARN", "{GitHubAppPrivateKeyArn}")},
		{"promote's queue URL points elsewhere", checkEnvironment, set("Resources.PromoteFunction.Properties.Environment.Variables.CONVEYOR_PROMOTIONS_QUEUE_URL", "{BuildsQueue}")},
		{"harbor route removed", checkRoutes, del("Resources.WebhookFunction.Properties.Events.Harbor")},
		{"GitHub route shares the default throttle", checkWebhookThrottle, del("Resources.WebhookFunction.Properties.Events.GitHub.Properties.RouteSettings")},
		{"GitHub route throttle without a burst", checkWebhookThrottle, del("Resources.WebhookFunction.Properties.Events.GitHub.Properties.RouteSettings.ThrottlingBurstLimit")},
		{"registry route on the GitHub throttle", checkWebhookThrottle, set("Resources.WebhookFunction.Properties.Events.Harbor.Properties.RouteSettings",
			map[string]any{"ThrottlingRateLimit": "{GitHubWebhookRateLimit}", "ThrottlingBurstLimit": "{GitHubWebhookBurstLimit}"})},
		{"reconcile schedule removed", checkReconcileSchedule, del("Resources.ReconcileFunction.Properties.Events.Schedule")},
		{"reconcile may consume builds", checkLeastPrivilege, appendTo("Resources.ReconcileRole.Properties.Policies.0.PolicyDocument.Statement",
			allow([]any{"sqs:ReceiveMessage"}, "{BuildsQueue.Arn}"))},
		{"rule target without DLQ", checkEcrRule, del("Resources.EcrPushRule.Properties.Targets.0.DeadLetterConfig")},
		{"rule pattern accepts failures", checkEcrRule, del("Resources.EcrPushRule.Properties.EventPattern.detail.result")},
		{"queue policy without condition", checkEcrRule, del("Resources.ImagesQueuePolicy.Properties.PolicyDocument.Statement.0.Condition")},
		{"webhook URL output removed", checkOutputs, del("Outputs.GitHubWebhookUrl")},
		{"board URL open to anyone", checkBoardAuth, set("Resources.BoardFunction.Properties.FunctionUrlConfig.AuthType", "NONE")},
		{"board URL removed", checkBoardAuth, del("Resources.BoardFunction.Properties.FunctionUrlConfig")},
		{"board on the public webhook API", checkBoardAuth, set("Resources.BoardFunction.Properties.Events", map[string]any{"Pages": map[string]any{"Type": "HttpApi",
			"Properties": map[string]any{"ApiId": "{HttpApi}", "Method": "GET", "Path": "/{proxy+}"}}})},
		{"board may scan", checkLeastPrivilege, appendTo("Resources.BoardRole.Properties.Policies.0.PolicyDocument.Statement", allow("dynamodb:Scan", "{Table.Arn}"))},
		{"board may receive dead letters", checkLeastPrivilege, appendTo("Resources.BoardRole.Properties.Policies.0.PolicyDocument.Statement", allow("sqs:ReceiveMessage", "{BuildsDLQ.Arn}"))},
		{"promote may sign", checkLeastPrivilege, appendTo("Resources.PromoteRole.Properties.Policies.0.PolicyDocument.Statement", allow("kms:Sign", "{SigningKeyArn}"))},
		{"build signs with any key", checkLeastPrivilege, appendTo(buildPolicy, allow("kms:Sign", "arn:aws:kms:us-east-1:123456789012:key/*"))},
		{"approval reads the key", checkLeastPrivilege, appendTo("Resources.ApprovalRole.Properties.Policies.0.PolicyDocument.Statement", allow("kms:GetPublicKey", "{SigningKeyArn}"))},
		{"promote verifies another builder", checkSigning, set("Resources.PromoteFunction.Properties.Environment.Variables.CONVEYOR_BUILDER_ID", "https://example.com/other")},
		{"promote verifies without the key", checkSigning, del("Resources.PromoteFunction.Properties.Environment.Variables.CONVEYOR_SIGNING_KEY")},
		{"signing key accepts any key", checkSigning, set("Parameters.SigningKeyArn.AllowedPattern", "^(arn:aws[a-z-]*:kms:.+)?$")},
		{"signing key required", checkSigning, del("Parameters.SigningKeyArn.Default")},
		{"builder id output differs", checkSigning, set("Outputs.BuilderId.Value", "https://github.com/conveyor-gitops/conveyor/builder@v1")},
		{"lifecycle template without the release rule", checkLifecycleTemplate, set("Resources.ReleaseLifecycleTemplate.Properties.LifecyclePolicy",
			`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["sha-"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]}`)},
		{"lifecycle template's days fixed", checkLifecycleTemplate, set("Resources.ReleaseLifecycleTemplate.Properties.LifecyclePolicy",
			`{"rules":[{"rulePriority":1,"description":"Conveyor: keep what environments run or may roll back to (release-*)","selection":{"tagStatus":"tagged","tagPrefixList":["release-"],"countType":"imageCountMoreThan","countNumber":9999},"action":{"type":"expire"}},{"rulePriority":2,"description":"Conveyor: expire builds no release tag protects after 30 days","selection":{"tagStatus":"tagged","tagPrefixList":["sha-"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]}`)},
		{"lifecycle template unconditional", checkLifecycleTemplate, del("Resources.ReleaseLifecycleTemplate.Condition")},
		{"lifecycle template not on push", checkLifecycleTemplate, set("Resources.ReleaseLifecycleTemplate.Properties.AppliedFor", []any{"PULL_THROUGH_CACHE"})},
		{"lifecycle prefix accepts anything", checkLifecycleTemplate, set("Parameters.EcrLifecyclePrefix.AllowedPattern", ".*")},
		{"operator cannot open the board", checkOperatorPolicy, set("Resources.OperatorPolicy.Properties.PolicyDocument.Statement.7.Resource", "{WebhookFunction.Arn}")},
	}
	s := loadStack(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := s.mutated(t, tt.mutate)
			if problems := tt.check(m); len(problems) == 0 {
				t.Errorf("the check did not notice: %s", tt.name)
			} else {
				t.Logf("caught: %s", strings.Join(problems, "; "))
			}
			// The original stays intact: mutations work on a copy.
			if problems := tt.check(s); len(problems) != 0 {
				t.Errorf("the original changed: %v", problems)
			}
		})
	}
}

// checkSigning: SigningKeyArn is optional and takes a KMS key ARN only
// (IAM grants on an alias ARN do not reach the key); build and promote
// name the same builder, one stable for the stack rather than the default
// every Conveyor shares, and the same key.
func checkSigning(s *stack) []string {
	var problems []string
	p, ok := s.cf.Parameters["SigningKeyArn"]
	if !ok {
		return []string{"no parameter SigningKeyArn"}
	}
	if p.Default != "" {
		problems = append(problems, fmt.Sprintf("SigningKeyArn default %v, want \"\" (unsigned)", p.Default))
	}
	re, err := regexp.Compile(str(p.AllowedPattern))
	if err != nil {
		return append(problems, fmt.Sprintf("SigningKeyArn AllowedPattern: %v", err))
	}
	for v, want := range map[string]bool{
		"": true,
		"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab":    true,
		"arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234": true,
		"arn:aws:kms:eu-west-1:123456789012:alias/conveyor":                              false,
		"arn:aws:kms:eu-west-1:123456789012:key/*":                                       false,
		"*": false,
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:x": false,
	} {
		if re.MatchString(v) != want {
			problems = append(problems, fmt.Sprintf("SigningKeyArn AllowedPattern on %q: %v, want %v", v, !want, want))
		}
	}
	fns := s.cf.GetAllServerlessFunctionResources()
	env := func(fn, k string) string {
		if f, ok := fns[fn]; ok && f.Environment != nil {
			return f.Environment.Variables[k]
		}
		return ""
	}
	for _, k := range []string{"CONVEYOR_BUILDER_ID", "CONVEYOR_SIGNING_KEY"} {
		if b, p := env("BuildFunction", k), env("PromoteFunction", k); b == "" || b != p {
			problems = append(problems, fmt.Sprintf("%s: build %q, promote %q: want the same, set", k, b, p))
		}
	}
	if id := env("BuildFunction", "CONVEYOR_BUILDER_ID"); id == attest.DefaultBuilderID || !strings.Contains(id, "{AWS::StackName}") {
		problems = append(problems, fmt.Sprintf("CONVEYOR_BUILDER_ID %q names no stack", id))
	}
	// The operator's CLI reads them from the stack's outputs.
	for out, k := range map[string]string{"BuilderId": "CONVEYOR_BUILDER_ID", "SigningKey": "CONVEYOR_SIGNING_KEY"} {
		if o, ok := s.cf.Outputs[out]; !ok || o.Value != env("PromoteFunction", k) {
			problems = append(problems, fmt.Sprintf("output %s: %v, want promote's %s %q", out, s.cf.Outputs[out].Value, k, env("PromoteFunction", k)))
		}
	}
	return problems
}

// TestUnsignedStack resolves every condition the other way (no signing
// key, no Gitea, no alarm topic): no function may touch KMS or be told of
// a key, and the builder id stays set.
func TestUnsignedStack(t *testing.T) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	opts := symbolic()
	opts.IntrinsicHandlerOverrides["Fn::If"] = func(_ string, in, _ any) any {
		if v, ok := in.([]any); ok && len(v) == 3 {
			return v[2]
		}
		return nil
	}
	resolved, err := intrinsics.ProcessYAML(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(resolved, &raw); err != nil {
		t.Fatal(err)
	}
	cf, err := parseTyped(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{cf: cf, raw: raw}
	roles := cf.GetAllIAMRoleResources()
	for fn, f := range cf.GetAllServerlessFunctionResources() {
		id, _ := refID(str(f.Role))
		var docs []any
		if r, ok := roles[id]; ok {
			for _, p := range r.Policies {
				docs = append(docs, p.PolicyDocument)
			}
		}
		for _, g := range roleGrants(docs) {
			if strings.HasPrefix(g, "kms:") {
				t.Errorf("%s: unsigned stack grants %s", fn, g)
			}
		}
		// AWS::NoValue resolves to null, which CloudFormation drops.
		res, _ := raw["Resources"].(map[string]any)[fn].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if v := vars["CONVEYOR_SIGNING_KEY"]; v != nil {
			t.Errorf("%s: unsigned stack sets CONVEYOR_SIGNING_KEY=%v", fn, v)
		}
	}
	// Outputs keep their Condition here, which CloudFormation evaluates.
	problems := checkSigning(s)
	if len(problems) == 0 {
		t.Error("checkSigning on the unsigned stack found the key set")
	}
	for _, p := range problems {
		if !strings.Contains(p, "CONVEYOR_SIGNING_KEY") {
			t.Errorf("checkSigning on the unsigned stack: %s; want only the missing key", p)
		}
	}
	if c := raw["Outputs"].(map[string]any)["SigningKey"].(map[string]any)["Condition"]; c != "HasSigningKey" {
		t.Errorf("output SigningKey's condition %v, want HasSigningKey", c)
	}
	if d := cmp.Diff(attestation["CONVEYOR_BUILDER_ID"], cf.GetAllServerlessFunctionResources()["PromoteFunction"].Environment.Variables["CONVEYOR_BUILDER_ID"]); d != "" {
		t.Errorf("unsigned stack's builder id (-want +got):\n%s", d)
	}
}

// checkLifecycleTemplate: the optional repository creation template gives
// the repositories ECR creates under EcrLifecyclePrefix exactly the policy
// `conveyor lifecycle-policy --build-days N` prints, N being
// EcrBuildRetentionDays, whatever its value.
func checkLifecycleTemplate(s *stack) []string {
	var problems []string
	p, ok := s.cf.Parameters["EcrLifecyclePrefix"]
	if !ok {
		return []string{"no parameter EcrLifecyclePrefix"}
	}
	if p.Default != "" {
		problems = append(problems, fmt.Sprintf("EcrLifecyclePrefix default %v, want \"\" (no template)", p.Default))
	}
	if re, err := regexp.Compile(str(p.AllowedPattern)); err != nil {
		problems = append(problems, fmt.Sprintf("EcrLifecyclePrefix AllowedPattern: %v", err))
	} else {
		for v, want := range map[string]bool{"": true, "ROOT": true, "conveyor": true, "team-a/apps": true, "*": false, "Conveyor": false, "/x": false} {
			if re.MatchString(v) != want {
				problems = append(problems, fmt.Sprintf("EcrLifecyclePrefix AllowedPattern on %q: %v, want %v", v, !want, want))
			}
		}
	}
	res, _ := s.raw["Resources"].(map[string]any)["ReleaseLifecycleTemplate"].(map[string]any)
	if res["Type"] != "AWS::ECR::RepositoryCreationTemplate" {
		return append(problems, "no AWS::ECR::RepositoryCreationTemplate ReleaseLifecycleTemplate")
	}
	if res["Condition"] != "HasEcrLifecycleTemplate" {
		problems = append(problems, fmt.Sprintf("ReleaseLifecycleTemplate condition %v, want HasEcrLifecycleTemplate", res["Condition"]))
	}
	props, _ := res["Properties"].(map[string]any)
	if props["Prefix"] != "{EcrLifecyclePrefix}" {
		problems = append(problems, fmt.Sprintf("ReleaseLifecycleTemplate prefix %v", props["Prefix"]))
	}
	if !slices.Contains(strs(props["AppliedFor"]), "CREATE_ON_PUSH") {
		problems = append(problems, fmt.Sprintf("ReleaseLifecycleTemplate applied for %v, want CREATE_ON_PUSH among them", props["AppliedFor"]))
	}
	text, _ := props["LifecyclePolicy"].(string)
	for _, days := range []int{30, 7} {
		dec := json.NewDecoder(strings.NewReader(strings.ReplaceAll(text, "{EcrBuildRetentionDays}", strconv.Itoa(days))))
		dec.DisallowUnknownFields()
		var got retention.ECRPolicy
		if err := dec.Decode(&got); err != nil {
			problems = append(problems, fmt.Sprintf("ReleaseLifecycleTemplate lifecycle policy: %v", err))
			break
		}
		want, _ := retention.ECRLifecyclePolicy(retention.ECROptions{BuildDays: days})
		if d := cmp.Diff(want, got); d != "" {
			problems = append(problems, fmt.Sprintf("ReleaseLifecycleTemplate lifecycle policy with %d days (-want +got):\n%s", days, d))
		}
	}
	return problems
}
