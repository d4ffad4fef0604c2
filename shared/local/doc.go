// Package local is Conveyor's local runtime: one process that serves the
// webhook ingress, keeps the queues and the state in one embedded SQLite
// database under a data directory, and runs an event-source mapping for
// every queue whose function is registered — the same handlers AWS Lambda
// runs, with the same batch semantics.
package local
