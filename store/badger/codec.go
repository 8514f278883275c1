package badger

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Records use a small hand-written binary encoding rather than JSON: an
// event record encodes in a few hundred nanoseconds with one allocation,
// and decoding copies the body out of Badger's buffer exactly once. The
// leading version byte lets a later release change the layout.
const recordVersion = 1

// orderedVersion is the layout of an event record with order keys and of
// an ordered target state: version 1 with the order fields appended (an
// event's before its body). Records without them stay version 1.
const orderedVersion = 2

var errBadRecord = errors.New("malformed record")

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.BigEndian.AppendUint64(dst, 0)
	}
	return binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano()))
}

// encodeEvent encodes everything about ev, body last so decoding without
// the body just stops early.
func encodeEvent(ev *store.Event) []byte {
	size := 1 + 8 + 4*2 + len(ev.ID) + len(ev.Source) + len(ev.Type) + len(ev.ClientIP) + 4 + len(ev.Body)
	for k, v := range ev.Headers {
		size += 4 + len(k) + len(v)
	}
	for _, t := range ev.Targets {
		size += 2 + len(t)
	}
	for k, v := range ev.OrderKeys {
		size += 4 + len(k) + len(v)
	}
	b := make([]byte, 0, size)
	if len(ev.OrderKeys) > 0 {
		b = append(b, orderedVersion)
	} else {
		b = append(b, recordVersion)
	}
	b = appendTime(b, ev.ReceivedAt)
	b = appendString(b, ev.ID)
	b = appendString(b, ev.Source)
	b = appendString(b, ev.Type)
	b = appendString(b, ev.ClientIP)
	b = binary.AppendUvarint(b, uint64(len(ev.Headers)))
	if len(ev.Headers) > 0 {
		// Sorted so equal events encode to equal bytes.
		keys := make([]string, 0, len(ev.Headers))
		for k := range ev.Headers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, ev.Headers[k])
		}
	}
	b = binary.AppendUvarint(b, uint64(len(ev.Targets)))
	for _, t := range ev.Targets {
		b = appendString(b, t)
	}
	if len(ev.OrderKeys) > 0 {
		b = appendStringMap(b, ev.OrderKeys)
	}
	return append(b, ev.Body...)
}

// appendStringMap appends m's size and its pairs in key order, so equal
// maps encode to equal bytes.
func appendStringMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, m[k])
	}
	return b
}

// reader decodes a record; the first error sticks and later reads return
// zero values, so decoders check once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errBadRecord
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) time() time.Time {
	v := r.u64()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v))
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a collection length, refusing lengths the remaining bytes
// cannot possibly hold so a corrupt record cannot trigger a huge allocation.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

// decodeEvent decodes an event record; the body is copied only when
// withBody is set, because val belongs to Badger.
func decodeEvent(val []byte, withBody bool) (store.Event, error) {
	r := reader{b: val}
	var ev store.Event
	version := r.byte()
	if version != recordVersion && version != orderedVersion {
		return ev, errBadRecord
	}
	ev.ReceivedAt = r.time()
	ev.ID = r.string()
	ev.Source = r.string()
	ev.Type = r.string()
	ev.ClientIP = r.string()
	if n := r.count(); n > 0 {
		ev.Headers = make(map[string]string, n)
		for range n {
			k := r.string()
			ev.Headers[k] = r.string()
		}
	}
	if n := r.count(); n > 0 {
		ev.Targets = make([]string, n)
		for i := range ev.Targets {
			ev.Targets[i] = r.string()
		}
	}
	if version == orderedVersion {
		if n := r.count(); n > 0 {
			ev.OrderKeys = make(map[string]string, n)
			for range n {
				k := r.string()
				ev.OrderKeys[k] = r.string()
			}
		}
	}
	if r.err != nil {
		return store.Event{}, r.err
	}
	if withBody {
		ev.Body = append([]byte{}, r.b...)
	}
	return ev, nil
}

// stateRecord is a store.TargetState as stored, with its status as a key code.
type stateRecord struct {
	target      string
	code        byte
	due         time.Time
	since       time.Time
	updated     time.Time
	reason      string
	runAttempts int
	attempts    []store.Attempt
	// orderKey is the delivery's order key, empty when unordered; line
	// is its position in its key's line (ordering.go).
	orderKey string
	line     uint64
	// changed marks records the current transaction must write back.
	changed bool
}

func (s *stateRecord) encode() []byte {
	size := 1 + 1 + 3*8 + 2 + len(s.reason) + 2
	for _, a := range s.attempts {
		size += 8 + 10 + 3 + 4 + len(a.Error) + len(a.Body)
	}
	b := make([]byte, 0, size+len(s.orderKey)+2+seqLength)
	version := byte(recordVersion)
	if s.orderKey != "" {
		version = orderedVersion
	}
	b = append(b, version, s.code)
	b = appendTime(b, s.due)
	b = appendTime(b, s.since)
	b = appendTime(b, s.updated)
	b = binary.AppendUvarint(b, uint64(s.runAttempts))
	b = appendString(b, s.reason)
	b = binary.AppendUvarint(b, uint64(len(s.attempts)))
	for _, a := range s.attempts {
		b = appendTime(b, a.At)
		b = binary.AppendVarint(b, int64(a.Duration))
		b = binary.AppendVarint(b, int64(a.Status))
		b = appendString(b, a.Error)
		b = appendString(b, a.Body)
	}
	if s.orderKey != "" {
		b = appendString(b, s.orderKey)
		b = appendU64(b, s.line)
	}
	return b
}

func decodeState(target string, val []byte) (*stateRecord, error) {
	r := reader{b: val}
	version := r.byte()
	if version != recordVersion && version != orderedVersion {
		return nil, errBadRecord
	}
	s := &stateRecord{target: target, code: r.byte()}
	s.due = r.time()
	s.since = r.time()
	s.updated = r.time()
	s.runAttempts = int(r.uvarint())
	s.reason = r.string()
	if n := r.count(); n > 0 {
		s.attempts = make([]store.Attempt, n)
		for i := range s.attempts {
			a := &s.attempts[i]
			a.At = r.time()
			a.Duration = time.Duration(r.varint())
			a.Status = int(r.varint())
			a.Error = r.string()
			a.Body = r.string()
		}
	}
	if version == orderedVersion {
		s.orderKey = r.string()
		s.line = r.u64()
	}
	if r.err != nil {
		return nil, r.err
	}
	switch s.code {
	case codePending, codeDelivered, codeDead:
	default:
		return nil, errBadRecord
	}
	return s, nil
}

// record appends a to the history, trimmed to the stored limits.
func (s *stateRecord) record(a store.Attempt) {
	a.Error = store.Excerpt(a.Error)
	a.Body = store.Excerpt(a.Body)
	s.attempts = append(s.attempts, a)
	if over := len(s.attempts) - store.MaxAttemptHistory; over > 0 {
		s.attempts = slices.Delete(s.attempts, 0, over)
	}
	s.runAttempts++
}

func (s *stateRecord) public() store.TargetState {
	return store.TargetState{
		Target:      s.target,
		Status:      statusOf(s.code),
		Due:         s.due,
		Since:       s.since,
		UpdatedAt:   s.updated,
		Reason:      s.reason,
		RunAttempts: s.runAttempts,
		Attempts:    s.attempts,
	}
}

func statusOf(code byte) store.Status {
	switch code {
	case codePending:
		return store.StatusPending
	case codeDelivered:
		return store.StatusDelivered
	case codeDead:
		return store.StatusDead
	case codeUnrouted:
		return store.StatusUnrouted
	}
	return ""
}

func codeOf(s store.Status) (byte, bool) {
	switch s {
	case store.StatusPending:
		return codePending, true
	case store.StatusDelivered:
		return codeDelivered, true
	case store.StatusDead:
		return codeDead, true
	case store.StatusUnrouted:
		return codeUnrouted, true
	}
	return 0, false
}

// summarize folds target states into the event's overall status.
func summarize(states []*stateRecord) store.Status {
	if len(states) == 0 {
		return store.StatusUnrouted
	}
	var dead bool
	for _, s := range states {
		switch s.code {
		case codePending:
			return store.StatusPending
		case codeDead:
			dead = true
		}
	}
	if dead {
		return store.StatusDead
	}
	return store.StatusDelivered
}
