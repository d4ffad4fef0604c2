// Package notify tells people what Conveyor does, where they already are:
// signed JSON webhooks and Slack incoming webhooks, configured per app and
// environment in conveyor.yaml.
//
// Delivery never blocks a promotion: an Enqueuer puts one message per
// event and receiver on the notifications queue (a failure to enqueue is
// logged and counted, never returned), and a Deliverer, the queue's
// consumer, posts it. The queue retries a failing receiver with the one
// retry policy and dead-letters it in the end, so it shows in `conveyor
// queues`; an idempotency record per event and receiver keeps a redelivery
// from posting twice. Secrets are named by environment variable and read
// only at delivery; no error or log line carries one.
package notify
