// Package awsenv wires Conveyor's handlers to AWS inside a Lambda function:
// it loads a function's typed configuration from environment variables,
// builds the SDK clients (with an optional endpoint override for
// emulators), the queue and state adapters, fetches and caches secrets from
// Secrets Manager, authenticates to ECR and to GitHub as a GitHub App, and
// reads the pipeline's conveyor.yaml from the GitOps repository with a short
// cache.
//
// Every functions/<name>/main.go is a few lines over this package: Load
// names the variables a function needs and reports every missing or invalid
// one at once; Open turns the result into an Env holding the clients; the
// Env's methods build the adapters the handler takes.
//
// Secrets are read from Secrets Manager by ARN (CONVEYOR_*_ARN). Each also
// has a plain-value variable without the _ARN suffix, for local runs and
// emulator tests only: a plain value sits in the function's configuration,
// readable by anyone who can read the function, so production deployments
// use the ARN. Secret values never appear in logs or error messages.
package awsenv
