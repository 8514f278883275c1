package ingress

import "unicode/utf8"

// MaxEventTypeLength is the longest event type kept, in bytes. The type
// comes from the payload ("event"), so a sender chooses its length; it is
// stored with every event and shown in every admin listing and CLI table,
// where one megabyte-long type per event made a single page of the event
// list a hundred megabytes.
const MaxEventTypeLength = 256

// EventType returns typ cut to at most MaxEventTypeLength bytes, on a
// UTF-8 character boundary so the result stays valid UTF-8. Rules see the
// whole payload; only the type stored with the event is bounded.
func EventType(typ string) string {
	if len(typ) <= MaxEventTypeLength {
		return typ
	}
	cut := MaxEventTypeLength
	// Back up over continuation bytes, at most one character's worth:
	// invalid UTF-8 cannot make this scan the whole string.
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(typ[cut]); i++ {
		cut--
	}
	return typ[:cut]
}
