package reencode

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// Body encodings a target can ask for (TargetConfig.BodyEncoding).
//
// A receiver that verifies the signature over its own re-serialisation of
// the parsed body, as UniCraft's Express and Flask examples do with
// JSON.stringify(req.body) and json.dumps(request.json), rejects any body
// whose bytes differ from that re-serialisation: "1050.0", "1e-7", "é",
// "\/" or a space after a colon all do. With Node or Python the
// relay sends, and signs, the body as that receiver will re-serialise it,
// and since re-serialising is idempotent the receiver's check passes.
const (
	// Raw relays the stored body byte for byte, as the sender signed
	// it. It is the default.
	Raw = "raw"
	// Node relays JSON.stringify(JSON.parse(body)) as Node.js computes
	// it.
	Node = "node"
	// Python relays json.dumps(json.loads(body)) as CPython computes
	// it with the json module's defaults.
	Python = "python"
)

// maxReencodeDepth bounds the re-encoder's recursion. Ingress refuses
// bodies nested deeper than 32; this only protects a library caller.
const maxReencodeDepth = 1000

// pythonMaxIntDigits is CPython's limit on converting a decimal string to
// an int (sys.int_info.default_max_str_digits); json.loads refuses an
// integer literal with more digits.
const pythonMaxIntDigits = 4300

// Error is a body the encoding cannot express, such as
// invalid JSON or an integer too long for Python. Retrying cannot help,
// so a delivery that meets one is dead-lettered at once.
type Error struct {
	// Encoding is the target's body encoding.
	Encoding string
	// Offset is the byte offset in the body where the problem was found.
	Offset int
	// Reason says what is wrong, without quoting the body.
	Reason string
}

// Error describes the problem without quoting the body.
func (e *Error) Error() string {
	return fmt.Sprintf("re-encoding body as %s: %s (offset %d)", e.Encoding, e.Reason, e.Offset)
}

// Valid reports whether enc names a body encoding; empty means
// Raw.
func Valid(enc string) bool {
	switch enc {
	case "", Raw, Node, Python:
		return true
	}
	return false
}

// Body returns body as a receiver in the language named by
// encoding re-serialises it after parsing: unchanged for Raw (or ""),
// JSON.stringify(JSON.parse(body)) for Node, json.dumps(json.loads(body))
// for Python. Key order is kept (Node.js puts array-index keys such as
// "2" first, in numeric order, as its objects do); a duplicate key keeps
// its first position and its last value. Every error is a
// *Error.
func Body(encoding string, body []byte) ([]byte, error) {
	var python bool
	switch encoding {
	case "", Raw:
		return body, nil
	case Node:
	case Python:
		python = true
	default:
		return nil, fmt.Errorf("unknown body encoding %q", encoding)
	}
	r := reencoder{in: body, python: python, encoding: encoding}
	if !utf8.Valid(body) {
		// Python refuses it; Node.js would silently substitute U+FFFD.
		return nil, r.fail(0, "body is not valid UTF-8")
	}
	// Python adds ", " and ": "; Node.js usually drops the sender's
	// whitespace. Either way this rarely grows.
	out := make([]byte, 0, len(body)+len(body)/8+16)
	r.skipSpace()
	out, err := r.value(out)
	if err != nil {
		return nil, err
	}
	r.skipSpace()
	if r.pos != len(r.in) {
		return nil, r.fail(r.pos, "data after the JSON value")
	}
	return out, nil
}

// reencoder parses JSON and writes each value as the target language's
// serialiser would. Strings are held in WTF-8 (UTF-8 that also encodes
// lone surrogates), because both languages keep a lone "\ud800" through a
// parse and write it back escaped.
type reencoder struct {
	in       []byte
	pos      int
	depth    int
	python   bool
	encoding string
}

func (r *reencoder) fail(offset int, reason string) error {
	return &Error{Encoding: r.encoding, Offset: offset, Reason: reason}
}

func (r *reencoder) skipSpace() {
	for r.pos < len(r.in) {
		switch r.in[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// value appends the re-encoding of the value at r.pos to dst.
func (r *reencoder) value(dst []byte) ([]byte, error) {
	if r.pos >= len(r.in) {
		return dst, r.fail(r.pos, "unexpected end of JSON")
	}
	switch c := r.in[r.pos]; {
	case c == '{':
		return r.object(dst)
	case c == '[':
		return r.array(dst)
	case c == '"':
		s, err := r.str()
		if err != nil {
			return dst, err
		}
		return r.quote(dst, s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number(dst)
	case c == 't':
		return r.literal(dst, "true")
	case c == 'f':
		return r.literal(dst, "false")
	case c == 'n':
		return r.literal(dst, "null")
	case r.python && c == 'N':
		// json.loads takes the constants that json.dumps writes for a
		// non-finite float, so our own output stays parseable.
		return r.literal(dst, "NaN")
	case r.python && c == 'I':
		return r.literal(dst, "Infinity")
	}
	return dst, r.fail(r.pos, "invalid character")
}

func (r *reencoder) literal(dst []byte, lit string) ([]byte, error) {
	if len(r.in)-r.pos < len(lit) || string(r.in[r.pos:r.pos+len(lit)]) != lit {
		return dst, r.fail(r.pos, "invalid literal")
	}
	r.pos += len(lit)
	return append(dst, lit...), nil
}

func (r *reencoder) enter() error {
	r.depth++
	if r.depth > maxReencodeDepth {
		return r.fail(r.pos, "nested too deeply")
	}
	return nil
}

func (r *reencoder) array(dst []byte) ([]byte, error) {
	if err := r.enter(); err != nil {
		return dst, err
	}
	r.pos++ // '['
	dst = append(dst, '[')
	r.skipSpace()
	if r.pos < len(r.in) && r.in[r.pos] == ']' {
		r.pos++
		r.depth--
		return append(dst, ']'), nil
	}
	for first := true; ; first = false {
		if !first {
			dst = r.separator(dst)
		}
		r.skipSpace()
		var err error
		if dst, err = r.value(dst); err != nil {
			return dst, err
		}
		r.skipSpace()
		if r.pos >= len(r.in) {
			return dst, r.fail(r.pos, "unexpected end of JSON")
		}
		switch r.in[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			return append(dst, ']'), nil
		default:
			return dst, r.fail(r.pos, "expected ',' or ']'")
		}
	}
}

// member is one key of an object being re-encoded; its value, already
// re-encoded, is vals[start:end] of the object's buffer.
type member struct {
	key        string // WTF-8
	start, end int
}

// object re-encodes an object. Members are collected first because a
// duplicate key replaces the earlier value in place, and Node.js moves
// array-index keys to the front.
func (r *reencoder) object(dst []byte) ([]byte, error) {
	if err := r.enter(); err != nil {
		return dst, err
	}
	r.pos++ // '{'
	r.skipSpace()
	if r.pos < len(r.in) && r.in[r.pos] == '}' {
		r.pos++
		r.depth--
		return append(dst, '{', '}'), nil
	}
	var (
		members []member
		vals    []byte
		index   map[string]int // built once linear search gets slow
	)
	for {
		r.skipSpace()
		if r.pos >= len(r.in) || r.in[r.pos] != '"' {
			return dst, r.fail(r.pos, "expected a string key")
		}
		key, err := r.str()
		if err != nil {
			return dst, err
		}
		r.skipSpace()
		if r.pos >= len(r.in) || r.in[r.pos] != ':' {
			return dst, r.fail(r.pos, "expected ':'")
		}
		r.pos++
		r.skipSpace()
		start := len(vals)
		if vals, err = r.value(vals); err != nil {
			return dst, err
		}
		m := member{key: key, start: start, end: len(vals)}
		if i := lookup(members, &index, key); i >= 0 {
			members[i].start, members[i].end = m.start, m.end
		} else {
			members = append(members, m)
			if index != nil {
				index[key] = len(members) - 1
			}
		}
		r.skipSpace()
		if r.pos >= len(r.in) {
			return dst, r.fail(r.pos, "unexpected end of JSON")
		}
		if r.in[r.pos] == ',' {
			r.pos++
			continue
		}
		if r.in[r.pos] != '}' {
			return dst, r.fail(r.pos, "expected ',' or '}'")
		}
		r.pos++
		break
	}
	r.depth--
	if !r.python {
		sortArrayIndexKeys(members)
	}
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = r.separator(dst)
		}
		dst = r.quote(dst, m.key)
		dst = append(dst, ':')
		if r.python {
			dst = append(dst, ' ')
		}
		dst = append(dst, vals[m.start:m.end]...)
	}
	return append(dst, '}'), nil
}

// lookup returns the position of key in members or -1, switching to a map
// once the object has enough keys for a linear search to hurt.
func lookup(members []member, index *map[string]int, key string) int {
	if *index == nil {
		if len(members) < 16 {
			for i := range members {
				if members[i].key == key {
					return i
				}
			}
			return -1
		}
		*index = make(map[string]int, 2*len(members))
		for i, m := range members {
			(*index)[m.key] = i
		}
	}
	if i, ok := (*index)[key]; ok {
		return i
	}
	return -1
}

// sortArrayIndexKeys moves the keys that are array indices ("0" to
// "4294967294", no leading zeros) to the front in ascending numeric order,
// keeping the others in insertion order: the order in which a JavaScript
// object lists its own keys, and so the order of JSON.stringify.
func sortArrayIndexKeys(members []member) {
	n := 0
	for _, m := range members {
		if _, ok := arrayIndex(m.key); ok {
			n++
		}
	}
	if n == 0 {
		return
	}
	slices.SortStableFunc(members, func(a, b member) int {
		ai, aok := arrayIndex(a.key)
		bi, bok := arrayIndex(b.key)
		switch {
		case aok && bok:
			return cmpUint(ai, bi)
		case aok:
			return -1
		case bok:
			return 1
		}
		return 0
	})
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// arrayIndex reports whether key is the canonical decimal form of an
// integer from 0 to 2^32-2, the array indices of ECMAScript.
func arrayIndex(key string) (uint64, bool) {
	if key == "" || len(key) > 10 || (key[0] == '0' && len(key) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n <= 1<<32-2
}

func (r *reencoder) separator(dst []byte) []byte {
	if r.python {
		return append(dst, ',', ' ')
	}
	return append(dst, ',')
}
