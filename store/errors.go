package store

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of the contract. Backends wrap them (errors.Is finds them).
var (
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("inbox store is closed")
	// ErrUnavailable means the store cannot take writes now (disk below
	// its minimum free space, cluster without quorum): ingress answers
	// 503 with Retry-After and the sender retries.
	ErrUnavailable = errors.New("inbox store unavailable")
	// ErrLowDisk is the ErrUnavailable of a full disk.
	ErrLowDisk = fmt.Errorf("%w: free disk space below minimum", ErrUnavailable)
	// ErrNotFound means no stored event (or no such target of the event)
	// matches; the admin API maps it to 404.
	ErrNotFound = errors.New("event not found")
	// ErrBadCursor means a List cursor was not one List returned; the
	// admin API maps it to 400.
	ErrBadCursor = errors.New("invalid list cursor")
	// ErrNotPending means Ack, Retry or Dead was called for a delivery
	// that is no longer pending; the dispatcher drops its result.
	ErrNotPending = errors.New("delivery is no longer pending")
)

// AmbiguousError means an event ID without a source is held by several
// sources; the admin API answers 409 naming them.
type AmbiguousError struct {
	// ID is the event ID asked for.
	ID string
	// Sources are the sources holding it, sorted.
	Sources []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("event id %q is held by several sources (%s): name one", e.ID, strings.Join(e.Sources, ", "))
}
