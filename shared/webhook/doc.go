// Package webhook is Conveyor's ingress: it verifies, deduplicates and
// normalises GitHub, Gitea, GitLab and registry webhooks and enqueues one envelope per
// event, answering within milliseconds. It does no work beyond that, so a
// slow registry or forge can never make a webhook sender time out.
//
// The same http.Handler serves the local runtime and, through LambdaHandler,
// API Gateway HTTP API (payload 2.0) and Lambda function URL events.
//
// Answers: 202 accepted (or ignored, with the reason), 200 for a ping or a
// duplicate delivery, 400 malformed, 401 bad or missing credentials, 405
// wrong method, 413 oversize, 503 when the queue could not take the event.
// Nothing is enqueued for a rejected request.
package webhook
