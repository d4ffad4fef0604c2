// Package replay finds dead-lettered events and sends them back to work,
// for `conveyor replay` and functions/replay alike.
//
// A Filter selects Records (one dead-lettered message each, with its
// decoded envelope when the body is one); Redrive moves the matching ones
// through a Dead, the small port with an embedded implementation (over
// sqlitequeue) and an SQS one (over sqsqueue). A replayed envelope keeps its
// ID and TraceID and has Replayed incremented, so consumers, whose
// idempotency is keyed on the event's identity and never on the queue's
// message id, treat work already done as done.
//
// Recorded lists dead letters from their records in the state store
// instead (see lambdabatch.WithDeadLetters), without receiving anything:
// the read-only board on AWS uses it. WithRecords makes the SQS Dead
// forget the record of each message it moves.
package replay
