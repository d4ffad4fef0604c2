// Package wiring is the one composition table of Conveyor's queue
// consumers, read by both runtimes: for each function its queue, batch
// size, Lambda timeout, the queue's visibility and max receives (from
// queue.Topology), and a constructor from one Deps value. shared/awsenv
// and shared/local only produce Deps; functions/<name>/main.go and the
// local runtime build every handler here, and infra's template tests check
// the template against the same table.
//
// The rule: functions/<name> runs the handler in shared/<name>.
//
//	functions/build      builds queue      shared/build      (Builder)
//	functions/registry   images queue      shared/registry   (Handler)
//	functions/promote    promotions queue  shared/promote    (Promoter)
//	functions/approval   approvals queue   shared/approval   (Approver)
//	functions/webhook    HTTP ingress      shared/webhook    (not a consumer)
//	functions/replay     operator invoke   shared/replay     (not a consumer)
//	functions/reconcile  schedule          shared/reconcile  (not a consumer)
//
// The libraries they use are named for what they provide: shared/imagebuild
// builds images, shared/ociregistry is the embedded registry, shared/manifest
// edits manifests.
package wiring
