package reencode

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// appendJSNumber appends f as JavaScript's Number.prototype.toString
// prints it (ECMA-262 Number::toString, radix 10), as JSON.stringify
// does: the shortest round-trip digits, in exponent form from 1e21 and
// below 1e-6; -0 prints as 0, and a value out of range (Infinity) as null.
func appendJSNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 0) || math.IsNaN(f):
		return append(dst, "null"...)
	case f == 0:
		return append(dst, '0')
	case f < 0:
		dst = append(dst, '-')
	}
	var buf [32]byte
	digits, n := shortestDecimal(buf[:], f)
	k := len(digits)
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		return appendZeros(dst, n-k)
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		return append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		dst = appendZeros(dst, -n)
		return append(dst, digits...)
	}
	dst = append(dst, digits[0])
	if k > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	e := n - 1
	dst = append(dst, 'e')
	if e >= 0 {
		dst = append(dst, '+')
	}
	return strconv.AppendInt(dst, int64(e), 10)
}

// appendJSString appends s (WTF-8) quoted as JSON.stringify quotes a
// string: '"' and '\' escaped, control characters as \b \t \n \f \r or
// \u00xx, lone surrogates as \uxxxx, and everything else, non-ASCII
// included, as it is.
func appendJSString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			u, size := decodeWTF8(s, i)
			if u < 0xD800 || u >= 0xE000 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendU4(dst, u)
			i += size
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		var ok bool
		if dst, ok = appendShortEscape(dst, c); !ok {
			dst = appendU4(dst, rune(c))
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
