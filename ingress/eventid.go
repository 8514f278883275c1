package ingress

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// ValidateEventID rejects, with a *ParseError, an event ID that a receiver
// or the admin API would read as another ID. An ID is 1 to
// MaxEventIDLength bytes of printable ASCII (space to '~'), does not start
// or end with a space and is not "." or "..":
//
//   - it is relayed as the X-UniCraft-Event-Id header, whose value loses
//     leading and trailing spaces on the way ("sp1 " would arrive as "sp1",
//     the ID of another event), and whose non-ASCII bytes each receiver
//     decodes its own way (Node reads them as Latin-1);
//   - it is an admin API path segment, where "." and ".." are resolved by
//     clients and proxies before the inbox sees them;
//   - it is a log field and a store key, where a control character could
//     forge a line.
//
// Other characters, '/' and '%' included, are allowed: the admin API and
// the CLI path-escape them.
func ValidateEventID(id string) error {
	switch {
	case id == "":
		return &ParseError{Reason: "event id is empty"}
	case len(id) > MaxEventIDLength:
		return &ParseError{Reason: fmt.Sprintf("event id is longer than %d bytes", MaxEventIDLength)}
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c < 0x20 || c == 0x7f:
			return &ParseError{Reason: "event id contains a control character"}
		case c >= 0x80:
			return &ParseError{Reason: "event id contains a character outside printable ASCII"}
		}
	}
	switch {
	case id[0] == ' ' || id[len(id)-1] == ' ':
		return &ParseError{Reason: "event id starts or ends with a space"}
	case id == "." || id == "..":
		return &ParseError{Reason: `event id may not be "." or ".."`}
	}
	return nil
}
