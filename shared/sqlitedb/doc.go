// Package sqlitedb opens the embedded SQLite database that backs Conveyor's
// local queue and state adapters.
//
// One file holds both, so a local run is a single directory to inspect, copy
// or delete. The driver is modernc.org/sqlite (pure Go, no cgo), opened in WAL
// mode with synchronous=FULL: a committed write survives a killed process and
// a power cut, and readers in other processes (the CLI) never block writers.
// A Group shares one commit among many small concurrent writes and syncs the
// write-ahead log itself, outside the write lock, before it answers them.
package sqlitedb
