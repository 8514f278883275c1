// Package adminapi is the webhook inbox's admin API on the wire: its paths
// and the JSON shapes of its requests and answers, declared once for the
// server (module), its client (cli) and the console.
//
// It imports the standard library and the store contract only.
package adminapi

// Paths of the admin API on Caddy's admin endpoint. Per-event routes are
// Events + "/" + the URL path-escaped ID, optionally + "/replay"; each
// takes ?source=.
const (
	// Base is the prefix of every route.
	Base = "/webhook_inbox/"
	// StatsPath answers Stats.
	StatsPath = Base + "stats"
	// EventsPath answers Events, and prefixes the per-event routes.
	EventsPath = Base + "events"
	// ReplayPath takes a BulkReplay and answers BulkReplayed.
	ReplayPath = Base + "replay"
	// TargetsPath prefixes the per-target routes:
	// TargetsPath/{name}/pause and TargetsPath/{name}/resume.
	TargetsPath = Base + "targets"
)

// StatusOrphaned lists events with deliveries pending for a target the
// running config no longer defines. It exists only in the admin API: the
// store does not know which targets are configured.
const StatusOrphaned = "orphaned"
