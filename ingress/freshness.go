package ingress

import "time"

// DefaultMaxFuture is how far ahead of the inbox's clock a payload timestamp
// may be, to absorb clock skew between the sender and us.
const DefaultMaxFuture = 5 * time.Minute

// CheckFreshness rejects a payload whose timestamp is more than maxAge before
// now or more than maxFuture after it, so a captured, validly signed request
// cannot be replayed after the dedup window has forgotten its ID. Both bounds
// are inclusive: a timestamp exactly maxAge old is accepted, one nanosecond
// older is not. A bound <= 0 disables that side of the check, and a payload
// without a timestamp always passes. The error is a *ParseError.
func CheckFreshness(p *Payload, now time.Time, maxAge, maxFuture time.Duration) error {
	if p == nil || !p.HasTimestamp {
		return nil
	}
	// time.Time.Sub saturates instead of overflowing, so timestamps in year 1
	// or 9999 still compare correctly.
	if maxAge > 0 && now.Sub(p.Timestamp) > maxAge {
		return &ParseError{Reason: "timestamp too old"}
	}
	if maxFuture > 0 && p.Timestamp.Sub(now) > maxFuture {
		return &ParseError{Reason: "timestamp in the future"}
	}
	return nil
}

// FreshUntil returns the last instant at which CheckFreshness accepts p
// with maxAge: its timestamp plus maxAge. It is the zero time when p has
// no timestamp or the age check is disabled.
//
// The handler asks the store to remember the event's ID at least until
// then. A timestamp ahead of the inbox's clock (up to the allowed future
// skew) keeps a payload fresh for longer than the dedup window counted
// from receipt; without this, a captured request could be replayed, and
// accepted again, once the window had forgotten its ID.
func FreshUntil(p *Payload, maxAge time.Duration) time.Time {
	if p == nil || !p.HasTimestamp || maxAge <= 0 {
		return time.Time{}
	}
	return p.Timestamp.Add(maxAge)
}
