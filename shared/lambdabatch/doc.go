// Package lambdabatch is the Lambda side of a queue consumer: it runs a
// consume.Func over the batch an SQS event source mapping delivers and
// applies the retry policy's decisions with SQS's own means, as the local
// runtime's poller does with the embedded queue's.
//
// Lambda's event source mapping deletes every record not reported in
// batchItemFailures and leaves the reported ones for their visibility
// timeout, which the executor sets per record with ChangeMessageVisibility
// (backoff, Retry-After, a hold) after recording the failure reason where
// replay and status find it. A permanent failure is copied to the
// dead-letter queue at once with its reason. A deferral longer than the
// receives left can cover is re-sent as a fresh message: SQS caps
// visibility at 12 h, and a weekend freeze must not dead-letter anything.
//
// With WithDeadLetters, each dead letter is also recorded in the state
// store (queue, id, body, attributes, reason, times), so that a read-only
// board lists it without receiving from the dead-letter queue. SQS's own
// redrive moves a message only when its final receive ends unsettled (a
// crash, a timeout, a FIFO group held back), so that receive is recorded
// ahead, as dead from the end of its visibility, and forgotten once
// settled.
package lambdabatch
