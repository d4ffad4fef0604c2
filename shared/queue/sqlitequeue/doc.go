// Package sqlitequeue is the embedded, durable adapter of the queue port.
//
// Messages live in one table of the embedded SQLite database. A receive
// stamps a fresh receipt handle and a visibility deadline in the same
// transaction that selects the messages, so a message that was in flight when
// the process died simply becomes visible again when its deadline passes:
// nothing is lost and nothing needs recovery code. FIFO queues expose only
// the oldest message of each group, and only while no message of that group
// is in flight.
package sqlitequeue
