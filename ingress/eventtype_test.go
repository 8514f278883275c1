package ingress

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEventType(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "short", in: "request.completed", want: "request.completed"},
		{name: "exactly the limit", in: strings.Repeat("a", MaxEventTypeLength), want: strings.Repeat("a", MaxEventTypeLength)},
		{name: "one byte over", in: strings.Repeat("a", MaxEventTypeLength+1), want: strings.Repeat("a", MaxEventTypeLength)},
		{name: "1 MB", in: strings.Repeat("a", 1<<20), want: strings.Repeat("a", MaxEventTypeLength)},
		// "é" is two bytes: after one ASCII byte, the limit falls inside one.
		{name: "two-byte character across the limit", in: "x" + strings.Repeat("é", MaxEventTypeLength), want: "x" + strings.Repeat("é", (MaxEventTypeLength-2)/2)},
		// "😀" is four bytes: 256 = 64×4, so it ends exactly at the limit.
		{name: "four-byte characters up to the limit", in: strings.Repeat("😀", 100), want: strings.Repeat("😀", MaxEventTypeLength/4)},
		{name: "four-byte character across the limit", in: "ab" + strings.Repeat("😀", 100), want: "ab" + strings.Repeat("😀", (MaxEventTypeLength-4)/4)},
		{name: "invalid UTF-8 continuation bytes", in: strings.Repeat("\x80", 300), want: strings.Repeat("\x80", MaxEventTypeLength-3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EventType(tt.in)
			if got != tt.want {
				t.Fatalf("EventType = %q (%d bytes), want %q (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
			if len(got) > MaxEventTypeLength || utf8.ValidString(tt.in) && !utf8.ValidString(got) {
				t.Fatalf("EventType = %d bytes (valid UTF-8 %v)", len(got), utf8.ValidString(got))
			}
		})
	}
}
