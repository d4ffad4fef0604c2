// Package awsenv wires Conveyor's handlers to AWS inside a Lambda function:
// it loads a function's typed configuration from environment variables,
// builds the SDK clients (with an optional endpoint override for
// emulators), the queue and state adapters, fetches and caches secrets from
// Secrets Manager and authenticates to ECR. What is not AWS lives in
// runtime-neutral packages this one only configures: GitHub App tokens in
// githubauth (the App's key comes from Secrets Manager), the conveyor.yaml
// cache and the GitOps proposer in pipeline.
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
