package ingress

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// countingReader produces size bytes of a repeating pattern and records how
// many bytes were handed out, like a chunked request body with no
// Content-Length.
type countingReader struct {
	size int64
	read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if rest := r.size - r.read; n > rest {
		n = rest
	}
	for i := range n {
		p[i] = byte('a' + (r.read+i)%26)
	}
	r.read += n
	return int(n), nil
}

func pattern(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func TestReadBody(t *testing.T) {
	const limit = 1 << 10
	tests := []struct {
		name          string
		size          int64 // bytes the reader produces
		contentLength int64
		limit         int64
		wrap          func(io.Reader) io.Reader
		wantErr       error
		maxRead       int64 // bytes the reader may hand out at most
	}{
		{name: "exact limit, known length", size: limit, contentLength: limit, limit: limit, maxRead: limit + 1},
		{name: "exact limit, unknown length", size: limit, contentLength: -1, limit: limit, maxRead: limit + 1},
		{name: "under limit, known length", size: 100, contentLength: 100, limit: limit, maxRead: 101},
		{name: "under limit, unknown length", size: 100, contentLength: -1, limit: limit, maxRead: 101},
		{name: "empty body", size: 0, contentLength: 0, limit: limit, maxRead: 1},
		{name: "empty body, zero limit", size: 0, contentLength: -1, limit: 0, maxRead: 1},
		{name: "one byte, zero limit", size: 1, contentLength: -1, limit: 0, wantErr: ErrBodyTooLarge, maxRead: 1},
		{name: "negative limit acts as zero", size: 0, contentLength: -1, limit: -5, maxRead: 1},
		{name: "limit+1, known length, not read", size: limit + 1, contentLength: limit + 1, limit: limit, wantErr: ErrBodyTooLarge, maxRead: 0},
		{name: "limit+1, unknown length", size: limit + 1, contentLength: -1, limit: limit, wantErr: ErrBodyTooLarge, maxRead: limit + 1},
		{name: "10 MB chunked over 1 MiB limit stops at limit+1", size: 10 << 20, contentLength: -1, limit: 1 << 20, wantErr: ErrBodyTooLarge, maxRead: 1<<20 + 1},
		{name: "10 MB declared over 1 MiB limit, not read", size: 10 << 20, contentLength: 10 << 20, limit: 1 << 20, wantErr: ErrBodyTooLarge, maxRead: 0},
		{name: "understated length still stops at limit+1", size: 10 << 20, contentLength: 10, limit: limit, wantErr: ErrBodyTooLarge, maxRead: limit + 1},
		{name: "overstated length, short body", size: 10, contentLength: 500, limit: limit, maxRead: 11},
		{name: "one byte per read at the limit", size: limit, contentLength: -1, limit: limit, wrap: iotest.OneByteReader, maxRead: limit + 1},
		{name: "one byte per read over the limit", size: 10 << 20, contentLength: -1, limit: limit, wrap: iotest.OneByteReader, wantErr: ErrBodyTooLarge, maxRead: limit + 1},
		{name: "data with EOF", size: 300, contentLength: -1, limit: limit, wrap: iotest.DataErrReader, maxRead: 301},
		{name: "data with EOF at the limit", size: limit, contentLength: -1, limit: limit, wrap: iotest.DataErrReader, maxRead: limit + 1},
		{name: "half reads", size: 5000, contentLength: -1, limit: 8000, wrap: iotest.HalfReader, maxRead: 5001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{size: tt.size}
			var r io.Reader = src
			if tt.wrap != nil {
				r = tt.wrap(r)
			}
			got, err := ReadBody(r, tt.contentLength, tt.limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if src.read > tt.maxRead {
				t.Errorf("read %d bytes from the body, want at most %d", src.read, tt.maxRead)
			}
			if tt.wantErr != nil {
				if got != nil {
					t.Errorf("got %d bytes with an error", len(got))
				}
				return
			}
			if !bytes.Equal(got, pattern(tt.size)) {
				t.Errorf("body differs: got %d bytes, want %d", len(got), tt.size)
			}
			// A truthful Content-Length sizes the buffer once, with no regrowth
			// to discover EOF.
			if tt.contentLength == tt.size && int64(cap(got)) != tt.size {
				t.Errorf("buffer capacity %d, want exactly the declared %d", cap(got), tt.size)
			}
			if limit := max(tt.limit, 0); int64(cap(got)) > limit {
				t.Errorf("buffer capacity %d exceeds the limit %d", cap(got), limit)
			}
		})
	}
}

func TestReadBodyReadError(t *testing.T) {
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
	}{
		{name: "error at once", r: iotest.ErrReader(boom)},
		{name: "error after some data", r: io.MultiReader(bytes.NewReader(pattern(50)), iotest.ErrReader(boom))},
		{name: "error right at the limit", r: io.MultiReader(bytes.NewReader(pattern(64)), iotest.ErrReader(boom))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadBody(tt.r, -1, 64)
			if !errors.Is(err, boom) {
				t.Fatalf("error = %v, want it to wrap %v", err, boom)
			}
			if errors.Is(err, ErrBodyTooLarge) {
				t.Error("a read error reported as ErrBodyTooLarge")
			}
			if got != nil {
				t.Errorf("got %d bytes with an error", len(got))
			}
		})
	}
}
