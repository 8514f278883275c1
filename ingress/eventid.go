package ingress

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

// MaxEventIDLength is the longest event ID accepted, in bytes. IDs become
// store keys, log fields and admin API path segments, so they are kept short.
const MaxEventIDLength = 256

// DefaultEventID returns the event ID used when no id expression is
// configured: the X-UniCraft-Event-Id header value if it is non-empty, else the
// payload's string "id" field if it is non-empty, else the hex SHA-256 of the
// raw body, because a sender's retry carries the same bytes. The result is
// never empty; check it with ValidateEventID.
func DefaultEventID(header string, p *Payload, body []byte) string {
	if header != "" {
		return header
	}
	if p != nil && p.ID != "" {
		return p.ID
	}
	sum := sha256.Sum256(body)
	// Encoding into a stack array costs one allocation (the string) instead
	// of hex.EncodeToString's two.
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	return string(buf[:])
}

// ValidateEventID rejects, with a *ParseError, an event ID that is empty,
// longer than MaxEventIDLength bytes, not valid UTF-8 or that contains a
// control character (C0, DEL or C1, such as CR, LF or ESC), so every stored ID
// is safe in log lines, store keys and URL paths. Other characters, '/'
// included, are allowed; the admin API escapes them.
func ValidateEventID(id string) error {
	switch {
	case id == "":
		return &ParseError{Reason: "event id is empty"}
	case len(id) > MaxEventIDLength:
		return &ParseError{Reason: fmt.Sprintf("event id is longer than %d bytes", MaxEventIDLength)}
	case !utf8.ValidString(id):
		return &ParseError{Reason: "event id is not valid UTF-8"}
	}
	for _, r := range id {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return &ParseError{Reason: "event id contains a control character"}
		}
	}
	return nil
}
