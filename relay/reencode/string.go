package reencode

import "unicode/utf8"

// str reads the string at r.pos (its opening quote) and returns its
// contents decoded, in WTF-8.
func (r *reencoder) str() (string, error) {
	start := r.pos
	r.pos++
	in := r.in
	i := r.pos
	for i < len(in) && in[i] != '"' && in[i] != '\\' && in[i] >= 0x20 {
		i++
	}
	if i < len(in) && in[i] == '"' {
		// no escapes: the common case
		s := string(in[r.pos:i])
		r.pos = i + 1
		return s, nil
	}
	buf := append([]byte(nil), in[r.pos:i]...)
	for {
		if i >= len(in) {
			return "", r.fail(start, "unterminated string")
		}
		c := in[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			return "", r.fail(i, "control character in string")
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(in) {
			return "", r.fail(i, "unterminated string")
		}
		esc := in[i+1]
		i += 2
		switch esc {
		case '"', '\\', '/':
			buf = append(buf, esc)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			u, ok := hex4(in, i)
			if !ok {
				return "", r.fail(i-2, "invalid \\u escape")
			}
			i += 4
			if u >= 0xD800 && u < 0xDC00 && i+6 <= len(in) && in[i] == '\\' && in[i+1] == 'u' {
				if lo, ok := hex4(in, i+2); ok && lo >= 0xDC00 && lo < 0xE000 {
					u = 0x10000 + (u-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			buf = appendWTF8(buf, u)
		default:
			return "", r.fail(i-2, "invalid escape")
		}
	}
}

func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var u rune
	for _, c := range in[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			u = u<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			u = u<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			u = u<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return u, true
}

// appendWTF8 appends u as UTF-8, encoding a surrogate code point as
// UTF-8 would if it were allowed (utf8.AppendRune writes U+FFFD instead).
func appendWTF8(dst []byte, u rune) []byte {
	if u >= 0xD800 && u < 0xE000 {
		return append(dst, byte(0xE0|u>>12), byte(0x80|(u>>6)&0x3F), byte(0x80|u&0x3F))
	}
	return utf8.AppendRune(dst, u)
}

// decodeWTF8 decodes the code point at s[i]; s is valid WTF-8.
func decodeWTF8(s string, i int) (rune, int) {
	if s[i] == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 {
		return rune(s[i]&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
	}
	return utf8.DecodeRuneInString(s[i:])
}

const hexDigits = "0123456789abcdef"

func appendU4(dst []byte, u rune) []byte {
	return append(dst, '\\', 'u', hexDigits[u>>12&0xF], hexDigits[u>>8&0xF], hexDigits[u>>4&0xF], hexDigits[u&0xF])
}

// appendShortEscape appends the two-character escape both languages use
// for c, reporting false if c has none.
func appendShortEscape(dst []byte, c byte) ([]byte, bool) {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c), true
	case '\b':
		return append(dst, '\\', 'b'), true
	case '\f':
		return append(dst, '\\', 'f'), true
	case '\n':
		return append(dst, '\\', 'n'), true
	case '\r':
		return append(dst, '\\', 'r'), true
	case '\t':
		return append(dst, '\\', 't'), true
	}
	return dst, false
}

func (r *reencoder) quote(dst []byte, s string) []byte {
	if r.python {
		return appendPythonString(dst, s)
	}
	return appendJSString(dst, s)
}
