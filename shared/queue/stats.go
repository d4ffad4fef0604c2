package queue

// Stats counts a queue's messages the way SQS's approximate counters do.
type Stats struct {
	// Visible messages can be received now.
	Visible int `json:"visible"`
	// InFlight messages were received and are hidden by their visibility
	// timeout (or by a retry backoff).
	InFlight int `json:"inflight"`
	// Delayed messages were sent with a delay and never received yet.
	Delayed int `json:"delayed"`
	// Dead messages sit in the queue's dead-letter queue.
	Dead int `json:"dead"`
}
