// Package sqlitestate is the embedded adapter of the state port, stored in
// the same SQLite database as the embedded queues.
package sqlitestate
