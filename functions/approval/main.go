// Command approval is the Lambda entry point of the approvals queue's
// consumer: it records merged and closed promotion pull requests and
// enqueues the next environment's promotion.
package main

import (
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Approvals), awsenv.Sender(queue.Promotions), awsenv.Forge, awsenv.Notifications)
}

// main builds the handler from wiring.Functions["approval"].
func main() { awsenv.Consume("approval", loadConfig) }
