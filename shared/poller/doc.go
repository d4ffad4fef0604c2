// Package poller is the local runtime's stand-in for Lambda's SQS event
// source mapping: it polls a queue of the embedded broker, runs a
// consume.Consumer over each batch and applies the retry policy's
// decisions through the queue port — the same decisions lambdabatch
// applies on SQS.
package poller
