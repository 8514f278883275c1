package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxDepth is the default limit on JSON nesting (objects and arrays,
// the top-level object counting as 1). Real webhook payloads stay far below
// it; deep nesting is only useful to make a parser or a CEL rule work hard.
const DefaultMaxDepth = 32

// Payload is what the handler needs from a parsed webhook body.
type Payload struct {
	// Object is the decoded top-level JSON object, with values as
	// encoding/json decodes them into any (numbers are float64). When a key
	// appears more than once the last value wins, as in encoding/json.
	Object map[string]any
	// Type is the top-level "event" field if it is a string, else empty.
	Type string
	// ID is the top-level "id" field if it is a string, else empty; an "id"
	// of another type is ignored rather than rejected.
	ID string
	// Timestamp is the top-level "timestamp" field parsed as RFC 3339, or
	// the zero time if the field is absent or null.
	Timestamp time.Time
	// HasTimestamp reports whether the payload carried a "timestamp" field
	// other than null.
	HasTimestamp bool
}

// ParseError is a rejection the handler answers with 400. Its Reason is safe
// to show the sender: it never contains a secret, a signature or more than a
// byte offset of the body.
type ParseError struct {
	// Reason says what was wrong with the request, in lowercase.
	Reason string
}

// Error returns the reason.
func (e *ParseError) Error() string { return e.Reason }

// parseErrorf builds a *ParseError from a format.
func parseErrorf(format string, args ...any) *ParseError {
	return &ParseError{Reason: fmt.Sprintf(format, args...)}
}

// ParsePayload validates and decodes a webhook body. The body must be valid
// UTF-8 and valid JSON holding exactly one top-level object (nothing after it
// but whitespace), nested at most maxDepth deep (maxDepth <= 0 means
// DefaultMaxDepth), with every number representable as a float64. A
// "timestamp" field, when present and not null, must be an RFC 3339 string
// ("T" and "Z" in either case); null counts as absent. Every rejection is a
// *ParseError.
//
// Depth is checked by a byte scan before decoding, so a hostile body nested
// a hundred thousand levels deep costs one linear pass, not a recursive
// decode.
func ParsePayload(body []byte, maxDepth int) (*Payload, error) {
	obj, err := ParseObject(body, maxDepth)
	if err != nil {
		return nil, err
	}
	p := &Payload{Object: obj}
	if s, ok := obj["event"].(string); ok {
		p.Type = s
	}
	if s, ok := obj["id"].(string); ok {
		p.ID = s
	}
	// A null timestamp is read as no timestamp, as a sender that
	// serialises an unset field as null means.
	if raw, ok := obj["timestamp"]; ok && raw != nil {
		s, isString := raw.(string)
		if !isString {
			return nil, &ParseError{Reason: "timestamp is not a string"}
		}
		ts, err := parseTimestamp(s)
		if err != nil {
			return nil, err
		}
		p.Timestamp = ts
		p.HasTimestamp = true
	}
	return p, nil
}

// ParseObject validates and decodes a webhook body as ParsePayload does,
// but reads none of UniCraft's fields: a sender scheme with a signed
// timestamp (Stripe, Slack, Standard Webhooks…) leaves a body "timestamp"
// of any shape to the app. Every rejection is a *ParseError.
func ParseObject(body []byte, maxDepth int) (map[string]any, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD, which would
	// make the stored event differ from what rules and dedup saw.
	if !utf8.Valid(body) {
		return nil, &ParseError{Reason: "body is not valid UTF-8"}
	}
	if exceedsDepth(body, maxDepth) {
		return nil, parseErrorf("body is nested deeper than %d levels", maxDepth)
	}
	if first := firstNonSpace(body); first != '{' {
		if first == 0 {
			return nil, &ParseError{Reason: "body is empty"}
		}
		return nil, &ParseError{Reason: "body is not a JSON object"}
	}

	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, jsonParseError(err)
	}
	return obj, nil
}

// parseTimestamp parses an RFC 3339 date-time. RFC 3339 section 5.6 lets
// the "T" and "Z" be lowercase; Go's time.RFC3339 layout does not, so they
// are upper-cased first (the date part is always 10 bytes, and "z" can only
// be last).
func parseTimestamp(s string) (time.Time, error) {
	if len(s) > 10 && s[10] == 't' {
		s = s[:10] + "T" + s[11:]
	}
	if n := len(s); n > 0 && s[n-1] == 'z' {
		s = s[:n-1] + "Z"
	}
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &ParseError{Reason: "timestamp is not an RFC 3339 date-time"}
	}
	return ts, nil
}

// jsonParseError turns an encoding/json error into a reason that names the
// problem and where, without echoing body content back.
func jsonParseError(err error) *ParseError {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return parseErrorf("body is not valid JSON (offset %d)", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if strings.HasPrefix(typ.Value, "number") {
			return parseErrorf("body has a number out of range (offset %d)", typ.Offset)
		}
		return &ParseError{Reason: "body is not a JSON object"}
	}
	return &ParseError{Reason: "body is not valid JSON"}
}

// exceedsDepth reports whether the arrays and objects in body nest deeper than
// maxDepth. It skips string contents (so brackets inside strings do not count)
// and does not validate: malformed JSON is left for the decoder to reject.
func exceedsDepth(body []byte, maxDepth int) bool {
	depth := 0
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				return true
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return false
}

// firstNonSpace returns the first byte of body that is not JSON whitespace, or
// 0 if there is none.
func firstNonSpace(body []byte) byte {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}
