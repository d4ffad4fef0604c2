// Package tracing turns the trace id that already follows a change into
// an OpenTelemetry trace exported over OTLP/HTTP: Conveyor's trace ids are
// 128-bit hex, so each one is the OpenTelemetry trace id itself, and logs
// (which carry trace_id) and traces join without a mapping.
//
// Spans are recorded after the fact by decorators of the runtime's parts,
// with the times they observed: the ingress (one span per webhook, under
// the trace id its answer names) and every queue hop (a "wait" span from
// the message's send to its handling, then a "handle" span for the
// function's work), through the consumers' Observe hook, the same in every
// runtime.
package tracing
