// Package test holds Conveyor's end-to-end tests: they run the real
// runtime, queues, state, registries and git repositories across process
// boundaries, as a user would.
package test
