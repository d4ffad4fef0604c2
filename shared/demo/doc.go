// Package demo builds throwaway repositories and runs Conveyor's pipeline
// on them in-process, narrating each step: what `make demo` shows. Its
// repository and webhook builders are also the fixtures of the end-to-end
// tests, so the demo and the tests exercise the same path.
package demo
