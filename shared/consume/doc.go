// Package consume is what every queue consumer shares, in Lambda and in
// the local runtime: a handler is a Func over one decoded envelope; Batch
// runs it over received messages and turns each outcome into a
// retry.Decision through the one retry.Policy. The executors that apply
// the decisions live beside their runtime: lambdabatch (an SQS event
// source mapping's batch, with ChangeMessageVisibility and
// batchItemFailures) and poller (the local runtime's embedded queue).
package consume
