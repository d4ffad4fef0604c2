// Package wiring is the one composition table of Conveyor's queue
// consumers, read by both runtimes: for each function its queue, batch
// size, Lambda timeout, the queue's visibility and max receives (from
// queue.Topology), and a constructor from one Deps value. shared/awsenv
// and shared/local only produce Deps; functions/<name>/main.go and the
// local runtime build every handler here, and infra's template tests check
// the template against the same table.
//
// Each function is named after its directory under functions/, and its
// handler lives in the shared package the table names:
//
//	functions/build     builds queue      shared/builder   (Builder)
//	functions/registry  images queue      shared/images    (Handler)
//	functions/promote   promotions queue  shared/promoter  (Promoter)
//	functions/approval  approvals queue   shared/approver  (Approver)
//	functions/webhook   HTTP ingress      shared/webhook   (not a consumer)
//	functions/replay    operator invoke   shared/replay    (not a consumer)
package wiring
