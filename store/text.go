package store

import "unicode/utf8"

// Excerpt cuts s to at most MaxExcerpt bytes at a UTF-8 boundary, as every
// backend stores attempt errors, answer bodies and dead-letter reasons.
func Excerpt(s string) string {
	return Truncate(s, MaxExcerpt)
}

// Truncate cuts s to at most n bytes at a UTF-8 boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
