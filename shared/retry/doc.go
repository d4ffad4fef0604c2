// Package retry classifies errors as permanent or transient, the one
// decision every handler makes about a failure: a transient error is retried
// with backoff, a permanent one goes to the dead-letter queue at once with
// its reason.
package retry
