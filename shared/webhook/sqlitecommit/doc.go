// Package sqlitecommit is the local runtime's webhook.Committer: it enqueues
// an accepted event into the embedded queue and records its idempotency keys
// in the embedded state store in one SQLite transaction, shared with the
// events other requests are committing at the same time (a group commit).
//
// A webhook is answered only once its transaction committed, so a 2xx still
// means the event and its keys are on disk, but a burst of concurrent
// deliveries costs one fsync rather than five per event. Deliveries in one
// batch run one after another inside it, each in its own savepoint: a
// redelivery of an event in the same batch sees the first one's keys and is
// a duplicate, and one delivery's failure undoes only its own writes.
package sqlitecommit
