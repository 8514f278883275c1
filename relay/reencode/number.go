package reencode

import (
	"errors"
	"strconv"
)

// number checks a JSON number literal and appends it as the language
// prints the value it parses to.
func (r *reencoder) number(dst []byte) ([]byte, error) {
	start := r.pos
	in := r.in
	i := r.pos
	if in[i] == '-' {
		i++
		if r.python && i < len(in) && in[i] == 'I' {
			r.pos = i
			return r.literal(append(dst, '-'), "Infinity")
		}
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case i < len(in) && in[i] >= '1' && in[i] <= '9':
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	default:
		return dst, r.fail(i, "invalid number")
	}
	intEnd := i
	isFloat := false
	if i < len(in) && in[i] == '.' {
		isFloat = true
		i++
		if i >= len(in) || in[i] < '0' || in[i] > '9' {
			return dst, r.fail(i, "invalid number")
		}
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		isFloat = true
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if i >= len(in) || in[i] < '0' || in[i] > '9' {
			return dst, r.fail(i, "invalid number")
		}
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	}
	r.pos = i
	lit := in[start:i]
	if r.python && !isFloat {
		// Python keeps integers exact, of any size up to its digit limit.
		digits := intEnd - start
		if lit[0] == '-' {
			digits--
		}
		if digits > pythonMaxIntDigits {
			return dst, r.fail(start, "integer has more digits than Python converts ("+strconv.Itoa(pythonMaxIntDigits)+")")
		}
		if string(lit) == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, lit...), nil
	}
	// Both parse a float literal to the nearest double, as ParseFloat
	// does; out of range it is ±Inf, which ParseFloat reports as an error
	// with the infinity as its value.
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return dst, r.fail(start, "invalid number")
	}
	if r.python {
		return appendPythonFloat(dst, f), nil
	}
	return appendJSNumber(dst, f), nil
}

// shortestDecimal returns the shortest decimal digits that round-trip to
// the finite, non-zero |f|, and the exponent n such that the value is
// 0.digits × 10^n (n is ECMAScript's n; Python's decpt). JavaScript and
// Python both print these digits (both pick the nearest of the shortest
// candidates, as strconv does).
func shortestDecimal(buf []byte, f float64) (digits []byte, n int) {
	if f < 0 {
		f = -f
	}
	s := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // d[.ddd]e±XX
	e := len(s) - 1
	for s[e] != 'e' {
		e--
	}
	exp, _ := strconv.Atoi(string(s[e+1:]))
	digits = s[:e]
	if len(digits) > 1 {
		// drop the '.' after the first digit
		digits = append(digits[:1], digits[2:]...)
	}
	return digits, exp + 1
}

func appendZeros(dst []byte, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, '0')
	}
	return dst
}
