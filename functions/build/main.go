// Command build is the Lambda entry point of the builds queue's consumer:
// it builds and pushes the image of every app a push changes.
package main

import (
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Builds), awsenv.GitOps, awsenv.Notifications)
}

// main builds the handler from wiring.Functions["build"].
func main() { awsenv.Consume("build", loadConfig) }
