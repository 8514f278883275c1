package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// ScanPayload accepts and rejects exactly the bodies ParsePayload does, with
// the same reasons, and fills in Type, ID and Timestamp the same way, but
// leaves Object nil: it reads the top-level fields it needs without
// decoding the body into a map. The handler uses it when no route rule or
// ID expression reads the payload, which saves most of the parse's CPU
// and all of its per-field allocations.
//
// A body it cannot vouch for (invalid JSON, a number out of float64
// range) is handed to ParsePayload, so rejections read the same whichever
// function ran.
func ScanPayload(body []byte, maxDepth int) (*Payload, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if !utf8.Valid(body) || exceedsDepth(body, maxDepth) || firstNonSpace(body) != '{' || !json.Valid(body) {
		return ParsePayload(body, maxDepth)
	}
	s := scanner{buf: body}
	fields, ok := s.topLevel()
	if !ok {
		return ParsePayload(body, maxDepth)
	}
	p := &Payload{}
	if raw := fields[fieldEvent]; len(raw) > 0 && raw[0] == '"' {
		p.Type = unquote(raw)
	}
	if raw := fields[fieldID]; len(raw) > 0 && raw[0] == '"' {
		p.ID = unquote(raw)
	}
	if raw := fields[fieldTimestamp]; raw != nil {
		if raw[0] != '"' {
			return nil, &ParseError{Reason: "timestamp is not a string"}
		}
		ts, err := time.Parse(time.RFC3339, unquote(raw))
		if err != nil {
			return nil, &ParseError{Reason: "timestamp is not an RFC 3339 date-time"}
		}
		p.Timestamp = ts
		p.HasTimestamp = true
	}
	return p, nil
}

// The top-level fields a Payload is made of.
const (
	fieldEvent = iota
	fieldID
	fieldTimestamp
	numFields
)

// scanner walks a body that json.Valid has accepted, so it only needs to
// find where each token ends.
type scanner struct {
	buf []byte
	pos int
}

// errRange stops a walk at a number encoding/json would refuse.
var errRange = errors.New("number out of range")

// topLevel returns the raw values of the top-level "event", "id" and
// "timestamp" fields (the last one of each, as encoding/json keeps), and
// false if a number anywhere is out of float64 range.
func (s *scanner) topLevel() ([numFields][]byte, bool) {
	var fields [numFields][]byte
	s.space()
	s.pos++ // '{'
	for {
		s.space()
		if s.buf[s.pos] == '}' {
			return fields, true
		}
		if s.buf[s.pos] == ',' {
			s.pos++
			s.space()
		}
		keyStart := s.pos
		s.skipString()
		key := s.buf[keyStart:s.pos]
		s.space()
		s.pos++ // ':'
		s.space()
		valStart := s.pos
		if err := s.skipValue(); err != nil {
			return fields, false
		}
		switch keyName(key) {
		case "event":
			fields[fieldEvent] = s.buf[valStart:s.pos]
		case "id":
			fields[fieldID] = s.buf[valStart:s.pos]
		case "timestamp":
			fields[fieldTimestamp] = s.buf[valStart:s.pos]
		}
	}
}

// keyName returns a quoted key as encoding/json reads it; keys of interest
// are short, so an escaped key is simply unquoted.
func keyName(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		switch string(quoted[1 : len(quoted)-1]) {
		case "event":
			return "event"
		case "id":
			return "id"
		case "timestamp":
			return "timestamp"
		}
		return ""
	}
	return unquote(quoted)
}

// unquote decodes a JSON string exactly as encoding/json does, including
// its replacement of invalid surrogate escapes.
func unquote(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		// No escapes: the bytes between the quotes, already valid UTF-8.
		return string(quoted[1 : len(quoted)-1])
	}
	var v string
	_ = json.Unmarshal(quoted, &v) // quoted is a valid JSON string
	return v
}

func (s *scanner) space() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// skipString moves past the string starting at pos.
func (s *scanner) skipString() {
	s.pos++ // opening quote
	for {
		i := bytes.IndexAny(s.buf[s.pos:], `"\`)
		s.pos += i
		if s.buf[s.pos] == '"' {
			s.pos++
			return
		}
		s.pos += 2 // a backslash and the byte it escapes
	}
}

// skipValue moves past the value starting at pos, checking every number
// in it.
func (s *scanner) skipValue() error {
	switch c := s.buf[s.pos]; {
	case c == '"':
		s.skipString()
	case c == '{' || c == '[':
		return s.skipContainer()
	case c == '-' || c >= '0' && c <= '9':
		return s.skipNumber()
	default: // true, false, null
		for s.pos < len(s.buf) && s.buf[s.pos] >= 'a' && s.buf[s.pos] <= 'z' {
			s.pos++
		}
	}
	return nil
}

// skipContainer moves past the object or array starting at pos.
func (s *scanner) skipContainer() error {
	depth := 0
	for s.pos < len(s.buf) {
		switch c := s.buf[s.pos]; {
		case c == '"':
			s.skipString()
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				s.pos++
				return nil
			}
		case c == '-' || c >= '0' && c <= '9':
			if err := s.skipNumber(); err != nil {
				return err
			}
			continue
		}
		s.pos++
	}
	return nil
}

// skipNumber moves past the number starting at pos and fails if it does
// not fit a float64, as decoding it into any would.
func (s *scanner) skipNumber() error {
	start := s.pos
	for s.pos < len(s.buf) {
		switch c := s.buf[s.pos]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			s.pos++
			continue
		}
		break
	}
	num := s.buf[start:s.pos]
	if bytes.ContainsAny(num, "eE") || len(num) > 300 {
		if _, err := strconv.ParseFloat(string(num), 64); err != nil {
			return errRange
		}
	}
	return nil
}
