package ingress

import (
	"errors"
	"fmt"
	"io"
)

// ErrBodyTooLarge is returned by ReadBody when the body is longer than the
// limit; the handler answers 413.
var ErrBodyTooLarge = errors.New("request body exceeds the limit")

// minBodyChunk is the first buffer size when the length is unknown, so a small
// chunked body does not start with a megabyte allocation.
const minBodyChunk = 4 << 10

// ReadBody reads all of r, up to limit bytes. It never reads more than limit+1
// bytes from r and never buffers more than limit bytes, so a body longer than
// limit yields ErrBodyTooLarge even when it is chunked and has no
// Content-Length. contentLength is the declared length, or -1 if unknown: a
// declared length above limit fails at once without reading, and a known
// length sizes the buffer up front (capped at limit). A negative limit is
// treated as 0. Read errors other than io.EOF are returned wrapped.
func ReadBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if limit < 0 {
		limit = 0
	}
	if contentLength > limit {
		return nil, ErrBodyTooLarge
	}

	size := int64(minBodyChunk)
	if contentLength >= 0 {
		size = contentLength
	}
	size = min(size, limit)
	buf := make([]byte, 0, size)

	for {
		if len(buf) == cap(buf) {
			// The buffer is full. Probe for one more byte before growing: a
			// body that exactly fills the buffer sized from Content-Length
			// (the usual case) then costs no reallocation, and a body at the
			// limit is told apart from a longer one without buffering more
			// than limit bytes.
			b, got, err := readByte(r)
			if got {
				if int64(len(buf)) >= limit {
					return nil, ErrBodyTooLarge
				}
				newCap := min(max(2*int64(cap(buf)), minBodyChunk), limit)
				grown := make([]byte, len(buf), newCap)
				copy(grown, buf)
				buf = append(grown, b)
			}
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return nil, fmt.Errorf("reading request body: %w", err)
			}
			continue
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading request body: %w", err)
		}
	}
}

// readByte reads one byte from r, retrying reads that return nothing. The
// bool reports whether the byte is valid; the error is whatever came with or
// instead of it.
func readByte(r io.Reader) (byte, bool, error) {
	var p [1]byte
	for {
		n, err := r.Read(p[:])
		if n == 1 || err != nil {
			return p[0], n == 1, err
		}
	}
}
