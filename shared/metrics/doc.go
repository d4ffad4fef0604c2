// Package metrics exposes what the local runtime does as Prometheus
// metrics: webhook events received, accepted and refused; queue depth,
// oldest-message age and dead letters; handler durations and outcomes;
// promotions by app, environment and result; and the four DORA metrics
// as gauges, computed as `conveyor metrics` computes them
// (lineage.Compute). `conveyor dev` serves them at /metrics on its
// ingress port, in the text format or OpenMetrics as the scraper asks.
//
// Counters are fed by decorators of the runtime's parts (the ingress
// handler, the consumers' Observe hook, a notify.Notifier); gauges are
// read from the queues and records at each scrape.
package metrics
