package ingress

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// ScanPayload accepts and rejects exactly the bodies ParsePayload does, with
// the same reasons, and fills in Type, ID and Timestamp the same way, but
// leaves Object nil: it validates the body in one pass and keeps only the
// top-level fields it needs, without decoding the body into a map. The
// handler uses it when no route rule or ID expression reads the payload,
// which saves most of the parse's CPU and all of its per-field allocations.
//
// A body it cannot vouch for (invalid JSON, too deep, a number out of
// float64 range) is handed to ParsePayload, so rejections read the same
// whichever function ran.
func ScanPayload(body []byte, maxDepth int) (*Payload, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if !utf8.Valid(body) {
		return ParsePayload(body, maxDepth)
	}
	s := scanner{buf: body, maxDepth: maxDepth}
	if !s.document() {
		return ParsePayload(body, maxDepth)
	}
	p := &Payload{}
	if raw := s.fields[fieldEvent]; len(raw) > 0 && raw[0] == '"' {
		p.Type = unquote(raw)
	}
	if raw := s.fields[fieldID]; len(raw) > 0 && raw[0] == '"' {
		p.ID = unquote(raw)
	}
	// A null timestamp counts as absent, as in ParsePayload.
	if raw := s.fields[fieldTimestamp]; raw != nil && string(raw) != "null" {
		if raw[0] != '"' {
			return nil, &ParseError{Reason: "timestamp is not a string"}
		}
		ts, err := parseTimestamp(unquote(raw))
		if err != nil {
			return nil, err
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

// scanner is a one-pass JSON validator (RFC 8259, as encoding/json reads
// it) for a body that must be one object, nested at most maxDepth deep, with
// every number within float64 range. It records the raw values of the
// top-level "event", "id" and "timestamp" fields, the last of each as
// encoding/json keeps. Any failure only means "let ParsePayload decide".
type scanner struct {
	buf      []byte
	pos      int
	depth    int
	maxDepth int
	fields   [numFields][]byte
}

// document reports whether buf is a valid object within the limits.
func (s *scanner) document() bool {
	s.space()
	if s.pos >= len(s.buf) || s.buf[s.pos] != '{' {
		return false
	}
	if !s.object(true) {
		return false
	}
	s.space()
	return s.pos == len(s.buf)
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

// value reads any JSON value at pos.
func (s *scanner) value() bool {
	if s.pos >= len(s.buf) {
		return false
	}
	switch c := s.buf[s.pos]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(false)
	case c == '[':
		return s.array()
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

func (s *scanner) literal(word string) bool {
	if !bytes.HasPrefix(s.buf[s.pos:], []byte(word)) {
		return false
	}
	s.pos += len(word)
	return true
}

func (s *scanner) enter() bool {
	s.depth++
	s.pos++ // '{' or '['
	return s.depth <= s.maxDepth
}

// object reads an object; top records the fields a Payload needs.
func (s *scanner) object(top bool) bool {
	if !s.enter() {
		return false
	}
	if s.closes('}') {
		return true
	}
	for {
		s.space()
		keyStart := s.pos
		if s.pos >= len(s.buf) || s.buf[s.pos] != '"' || !s.str() {
			return false
		}
		key := s.buf[keyStart:s.pos]
		s.space()
		if s.pos >= len(s.buf) || s.buf[s.pos] != ':' {
			return false
		}
		s.pos++
		s.space()
		valStart := s.pos
		if !s.value() {
			return false
		}
		if top {
			if f := fieldOf(key); f >= 0 {
				s.fields[f] = s.buf[valStart:s.pos]
			}
		}
		if end, ok := s.after('}'); end || !ok {
			return ok
		}
	}
}

func (s *scanner) array() bool {
	if !s.enter() {
		return false
	}
	if s.closes(']') {
		return true
	}
	for {
		s.space()
		if !s.value() {
			return false
		}
		if end, ok := s.after(']'); end || !ok {
			return ok
		}
	}
}

// closes reads the closing byte of an empty container, if it is next.
func (s *scanner) closes(closing byte) bool {
	s.space()
	if s.pos < len(s.buf) && s.buf[s.pos] == closing {
		s.pos++
		s.depth--
		return true
	}
	return false
}

// after reads what follows a member or an element: a comma, so another
// follows, or the closing byte, so the container ends. ok is false for
// anything else.
func (s *scanner) after(closing byte) (end, ok bool) {
	s.space()
	if s.pos >= len(s.buf) {
		return false, false
	}
	switch s.buf[s.pos] {
	case ',':
		s.pos++
		return false, true
	case closing:
		s.pos++
		s.depth--
		return true, true
	}
	return false, false
}

// plainByte marks the bytes a string holds as they are: not the closing
// quote, not a backslash, not a control character.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string; the body is already known to be valid UTF-8.
func (s *scanner) str() bool {
	s.pos++ // opening quote
	for {
		for s.pos < len(s.buf) && plainByte[s.buf[s.pos]] {
			s.pos++
		}
		if s.pos >= len(s.buf) {
			return false
		}
		switch s.buf[s.pos] {
		case '"':
			s.pos++
			return true
		case '\\':
			if s.pos+1 >= len(s.buf) {
				return false
			}
			switch s.buf[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.buf) {
					return false
				}
				for _, h := range s.buf[s.pos+2 : s.pos+6] {
					if !isHex(h) {
						return false
					}
				}
				s.pos += 6
			default:
				return false
			}
		default: // a control character
			return false
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number reads a number and checks that it fits a float64, as decoding it
// into any would.
func (s *scanner) number() bool {
	start := s.pos
	if s.buf[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.buf) && s.buf[s.pos] == '0':
		s.pos++
	case s.digits() == 0:
		return false
	}
	exp := false
	if s.pos < len(s.buf) && s.buf[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return false
		}
	}
	if s.pos < len(s.buf) && (s.buf[s.pos] == 'e' || s.buf[s.pos] == 'E') {
		exp = true
		s.pos++
		if s.pos < len(s.buf) && (s.buf[s.pos] == '+' || s.buf[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return false
		}
	}
	// Without an exponent only a number of more than 308 digits can
	// overflow.
	if exp || s.pos-start > 300 {
		if _, err := strconv.ParseFloat(string(s.buf[start:s.pos]), 64); err != nil {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.buf) && s.buf[s.pos] >= '0' && s.buf[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

// fieldOf returns which Payload field a quoted top-level key names, or -1.
func fieldOf(quoted []byte) int {
	name := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		// An escaped key is read as encoding/json reads it.
		name = []byte(unquote(quoted))
	}
	switch string(name) {
	case "event":
		return fieldEvent
	case "id":
		return fieldID
	case "timestamp":
		return fieldTimestamp
	}
	return -1
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
