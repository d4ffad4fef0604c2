// Package event defines the envelope that carries every message between
// Conveyor's functions, and the normalised payload of each kind.
//
// Queues never carry a raw webhook body: the ingress keeps only the fields a
// function needs, so every message stays far below SQS's size limit and every
// consumer sees the same shape whichever forge or registry produced the event.
package event
