// Package sqsqueue is the Amazon SQS adapter of the queue port, for
// standard and FIFO queues, on aws-sdk-go-v2.
//
// Where SQS and the port differ:
//
//   - SQS keeps no failure reasons. Fail records the reason in a Reasons
//     store (the DynamoDB state adapter implements it), keyed by the SQS
//     message id, which SQS keeps when its redrive policy moves a message
//     to the dead-letter queue; Receive fills Message.LastError from it.
//     Without a Reasons store, reasons given to Fail are dropped.
//   - DeadLetter sends a copy to the dead-letter queue (attributes
//     dead_reason, source_queue and source_message_id) and deletes the
//     original; the copy reports the original's id. It needs the message
//     body, so it works for messages received through the same Queue value
//     and still in flight; DeadLetterMessage takes the whole message.
//   - A receipt handle is "<message id>#<SQS receipt handle>", so that Fail
//     knows the message without a lookup; ReceiptHandle builds one.
//   - Standard queues do not deduplicate: a DedupeID travels as the
//     dedupe_id attribute only. FIFO queues deduplicate on it; a FIFO send
//     without one gets a random id (no deduplication, as the port says),
//     never content-based deduplication.
//   - Delete with an outdated receipt handle succeeds silently (SQS does
//     not report it); ChangeVisibility and Fail report ErrStaleReceipt.
//   - Durations go to SQS as whole seconds, rounded up. A delay is at most
//     15 minutes and FIFO queues take no per-message delay (ErrDelay).
//   - SQS allows at most 10 message attributes; empty values are not sent.
package sqsqueue
