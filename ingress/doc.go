// Package ingress holds the checks the webhook_inbox HTTP handler runs on every
// incoming webhook before it stores the event, in the order the handler runs
// them: per-client rate limiting ([RateLimiter]), reading the body under a hard
// size limit ([ReadBody]), parsing the JSON payload ([ParsePayload]; the
// signature is checked by the sender's scheme in package signature before
// it), rejecting stale or
// future-dated payloads ([CheckFreshness]), choosing a safe event ID
// ([DefaultEventID], [ValidateEventID]) and selecting the headers stored
// with the event ([HeaderKeeper]).
//
// The package is pure: it never imports Caddy and takes the current time as an
// argument, so every check can be tested, fuzzed and benchmarked alone. Errors
// that a sender may see are [*ParseError] values whose Reason never contains a
// secret or a signature.
package ingress
