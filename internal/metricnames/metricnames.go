// Package metricnames lists the Prometheus series the webhook_inbox module
// exports (the README's "Metrics", with the histogram's series and the store
// gauges), so the example alert rules and dashboard are checked against
// one list.
package metricnames

// All are the series names queries may use.
var All = []string{
	"caddy_webhook_inbox_received_total",
	"caddy_webhook_inbox_deliveries_total",
	"caddy_webhook_inbox_delivery_duration_seconds_bucket",
	"caddy_webhook_inbox_delivery_duration_seconds_sum",
	"caddy_webhook_inbox_delivery_duration_seconds_count",
	"caddy_webhook_inbox_queue_depth",
	"caddy_webhook_inbox_dead_letters",
	"caddy_webhook_inbox_oldest_pending_seconds",
	"caddy_webhook_inbox_target_up",
	"caddy_webhook_inbox_target_paused",
	"caddy_webhook_inbox_free_space_bytes",
	"caddy_webhook_inbox_store_size_bytes",
}
