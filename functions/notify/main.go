// Command notify is the Lambda entry point of the notifications queue's
// consumer: it posts each notification to its receiver (a signed webhook
// or a Slack incoming webhook) or comments on its pull request through the
// forge, once, retried with backoff.
package main

import (
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Notifications), awsenv.Forge, awsenv.NotifySecrets)
}

// main builds the handler from wiring.Functions["notify"].
func main() { awsenv.Consume("notify", loadConfig) }
