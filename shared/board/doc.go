// Package board is the pipeline board: a read-only web page of every app ×
// environment (what runs where, what waits for whom, what is frozen, what
// drifted), each app's history with its DORA metrics, and the dead letters.
// It renders HTML on the server with html/template from assets embedded in
// the binary, reads through small ports that the state store, the queues
// and the pipeline config already satisfy, and tells open pages of changes
// over server-sent events so they refresh without a reload.
package board
