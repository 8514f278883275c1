package reencode

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// appendPythonFloat appends f as Python's repr(float) prints it, as
// json.dumps does: the shortest round-trip digits, in exponent form
// (at least two exponent digits, always signed) when the decimal exponent
// is below -4 or at least 16, otherwise positional with at least one
// digit after the point; an infinity prints as Infinity.
func appendPythonFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.Signbit(f):
		dst = append(dst, '-')
	}
	if f == 0 {
		return append(dst, '0', '.', '0')
	}
	var buf [32]byte
	digits, n := shortestDecimal(buf[:], f)
	k := len(digits)
	if e := n - 1; e < -4 || e >= 16 {
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if e < 0 {
			dst = append(dst, '-')
			e = -e
		} else {
			dst = append(dst, '+')
		}
		if e < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(e), 10)
	}
	switch {
	case n <= 0:
		dst = append(dst, '0', '.')
		dst = appendZeros(dst, -n)
		return append(dst, digits...)
	case n < k:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		return append(dst, digits[n:]...)
	}
	dst = append(dst, digits...)
	dst = appendZeros(dst, n-k)
	return append(dst, '.', '0')
}

// appendPythonString appends s (WTF-8) quoted as json.dumps quotes a
// string with its default ensure_ascii=True: printable ASCII as it is,
// '"' and '\' escaped, \b \f \n \r \t, and every other character as
// lowercase \uxxxx, those beyond the BMP as a surrogate pair.
func appendPythonString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c <= 0x7E && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c >= utf8.RuneSelf {
			u, size := decodeWTF8(s, i)
			if u >= 0x10000 {
				hi, lo := utf16.EncodeRune(u)
				dst = appendU4(appendU4(dst, hi), lo)
			} else {
				dst = appendU4(dst, u)
			}
			i += size
			start = i
			continue
		}
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
