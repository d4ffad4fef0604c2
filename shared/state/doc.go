// Package state is the port for what Conveyor must remember between
// invocations: idempotency records that turn at-least-once delivery into
// exactly-once effects, and release records that form the lineage of every
// image through every environment.
//
// Adapters: the embedded SQLite store (package sqlitestate) and DynamoDB.
package state
