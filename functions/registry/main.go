// Command registry is the Lambda entry point of the images queue's
// consumer: it turns a pushed image into its first environment's promotion.
package main

import (
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Images), awsenv.Sender(queue.Promotions), awsenv.GitOps, awsenv.Notifications)
}

// main builds the handler from wiring.Functions["registry"].
func main() { awsenv.Consume("registry", loadConfig) }
