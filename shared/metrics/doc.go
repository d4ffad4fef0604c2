// Package metrics exposes what Conveyor does as Prometheus metrics:
// webhook events received, accepted and refused; queue depth,
// oldest-message age and dead letters; handler durations and outcomes;
// promotions by app, environment and result; build durations and bytes
// pushed; forge and registry calls and forge rate-limit waits; and the
// four DORA metrics as gauges, computed as `conveyor metrics` computes
// them (lineage.Compute). `conveyor dev` serves them at /metrics on its
// ingress port, in the text format or OpenMetrics as the scraper asks.
//
// Counters are fed by decorators of the runtime's parts (the ingress
// handler, the consumers' Observe hook, a notify.Notifier, the registry
// transport) and by the observers the handlers take (forge.Observer,
// build.Observer); gauges are read from the queues and records at each
// scrape.
//
// On Lambda the same counters and histograms are written as CloudWatch
// Embedded Metric Format after each invocation (KeepDeltas, FlushEMF):
// what changed during the invocation, in the Conveyor namespace, with the
// labels as dimensions.
package metrics
