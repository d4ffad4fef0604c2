// Package runtime is the local stand-in for AWS Lambda's SQS event-source
// mapping: it polls a queue, hands batches to a handler as events.SQSEvent
// and applies the handler's events.SQSEventResponse exactly as Lambda does —
// reported items stay in the queue, the others are deleted, and a handler
// error (or a malformed response) fails the whole batch.
//
// The handlers are the very functions real Lambda calls; only the loop
// around them differs.
package runtime
