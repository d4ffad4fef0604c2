package queue

import "time"

// The queues of a Conveyor deployment.
const (
	Builds     = "builds"
	Images     = "images"
	Promotions = "promotions"
	Approvals  = "approvals"
	// Notifications carries one message per notification and receiver.
	Notifications = "notifications"
)

// Spec describes one work queue and its dead-letter queue.
type Spec struct {
	Name string
	FIFO bool
	// MaxReceives is how many receives a message gets before it moves to
	// the dead-letter queue.
	MaxReceives int
	// Visibility is the visibility timeout, on SQS and locally: at least
	// six times the consumer's timeout (wiring.Functions), as AWS advises;
	// infra/template.yaml sets the same.
	Visibility time.Duration
}

// DeadLetter is the name of the spec's dead-letter queue.
func (s Spec) DeadLetter() string { return DeadLetterName(s.Name) }

// DeadLetterName returns the dead-letter queue name for queue name.
func DeadLetterName(name string) string { return name + "-dlq" }

// Topology lists Conveyor's queues in pipeline order. Promotions is FIFO so
// that one app/environment is promoted by one message at a time.
var Topology = []Spec{
	{Name: Builds, MaxReceives: 5, Visibility: time.Hour},
	{Name: Images, MaxReceives: 5, Visibility: 6 * time.Minute},
	{Name: Promotions, FIFO: true, MaxReceives: 5, Visibility: 12 * time.Minute},
	{Name: Approvals, MaxReceives: 5, Visibility: 6 * time.Minute},
	// A receiver that is down gets more tries, spread by the backoff.
	{Name: Notifications, MaxReceives: 8, Visibility: 3 * time.Minute},
}

// Lookup returns the topology's spec for name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Topology {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}
