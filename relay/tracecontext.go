package relay

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// W3C Trace Context headers (https://www.w3.org/TR/trace-context/), kept
// with the event by ingress/headers.go under their canonical names.
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
)

// setTraceContext passes the sender's trace on with an attempt: the same
// version, trace ID and flags, and a fresh span ID, so each attempt shows
// as its own child span of the sender's and the app's spans join the
// sender's trace. tracestate goes with it unchanged. A traceparent that
// is not valid is dropped with its tracestate, as the spec says a
// receiver must. Without one the attempt carries none.
func setTraceContext(h http.Header, kept map[string]string) {
	h.Del(headerTraceparent)
	h.Del(headerTracestate)
	tp, ok := childTraceparent(kept[headerTraceparent])
	if !ok {
		return
	}
	h.Set(headerTraceparent, tp)
	if ts := kept[headerTracestate]; ts != "" {
		h.Set(headerTracestate, ts)
	}
}

// childTraceparent returns parent with a new random span ID, or false when
// parent is not a valid version-00-shaped traceparent:
// "vv-<32 hex trace id>-<16 hex span id>-ff", with a trace ID and span ID
// that are not all zero, and version ff refused. A later version may
// append fields after the flags; they are dropped, as the spec allows.
func childTraceparent(parent string) (string, bool) {
	const length = 55
	if len(parent) < length || (len(parent) > length && parent[length] != '-') {
		return "", false
	}
	p := parent[:length]
	if p[2] != '-' || p[35] != '-' || p[52] != '-' {
		return "", false
	}
	version, traceID, spanID, flags := p[0:2], p[3:35], p[36:52], p[53:55]
	if !isLowerHex(version) || version == "ff" || !isLowerHex(traceID) || !isLowerHex(spanID) || !isLowerHex(flags) {
		return "", false
	}
	if version == "00" && len(parent) != length {
		return "", false
	}
	if allZero(traceID) || allZero(spanID) {
		return "", false
	}
	var span [8]byte
	for {
		_, _ = rand.Read(span[:])
		if span != [8]byte{} {
			break
		}
	}
	return "00-" + traceID + "-" + hex.EncodeToString(span[:]) + "-" + flags, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
