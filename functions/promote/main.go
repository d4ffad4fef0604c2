// Command promote is the Lambda entry point of the promotions queue's
// consumer: it proposes (or merges) a digest into one environment.
package main

import (
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Promotions), awsenv.Forge, awsenv.Notifications)
}

// main builds the handler from wiring.Functions["promote"].
func main() { awsenv.Consume("promote", loadConfig) }
