// Package queue is the port through which Conveyor's functions hand work to
// each other, with SQS semantics: at-least-once delivery, a visibility
// timeout, a receive count, dead-lettering after a maximum number of
// receives, and FIFO queues that deliver each message group in order.
//
// Adapters: the embedded SQLite queue (package sqlitequeue) for local runs
// and tests, and SQS for AWS.
package queue
