package badger

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Key layout. Every key starts with a one-letter namespace and a slash so a
// prefix scan never crosses namespaces. Variable-length names (sources,
// IDs, targets) are prefixed with their uvarint length, so "app" can never be
// read as a prefix of "app2". Integers are big-endian so byte order is
// numeric order, which makes due-ordered and time-ordered scans plain
// prefix iterations.
//
//	d/<len source><source><id>          dedup marker, value = seq, TTL = DedupWindow
//	e/<seq>                             event record (metadata + raw body), immutable
//	i/<len id><id><seq>                 event ID index, empty value
//	t/<seq><target>                     per-target delivery state (status, attempts)
//	q/<len target><target><due><seq>    delivery queue; one entry per pending (seq, target); empty value,
//	                                    or for an ordered delivery <len key><key><line>, user meta 1 (ordering.go)
//	s/<status><len target><target><seq> per-target status index (dead letters live under s/x)
//	g/u<seq>                            unrouted events (they have no target to be indexed under s/)
//	r/<until><seq>                      retention index: the settled event may be deleted from until on
//	m/seq                               highest seq ever assigned, so a clock step back never reuses keys
//	m/pause/<target>                    the target is paused, empty value
//
// seq is the receive time in Unix nanoseconds, bumped to stay strictly
// increasing, so "newest first" is a reverse scan and the seq itself is a
// usable timestamp.
const (
	nsDedup   = 'd'
	nsEvent   = 'e'
	nsID      = 'i'
	nsState   = 't'
	nsQueue   = 'q'
	nsStatus  = 's'
	nsGlobal  = 'g'
	nsMeta    = 'm'
	nsRetain  = 'r'
	seqLength = 8
)

// Status bytes used inside keys and state records.
const (
	codePending   byte = 'p'
	codeDelivered byte = 'd'
	codeDead      byte = 'x'
	codeUnrouted  byte = 'u'
)

var errBadKey = errors.New("malformed key")

// keyMetaSeq holds the highest seq ever assigned.
var keyMetaSeq = []byte{nsMeta, '/', 's', 'e', 'q'}

// pauseKey is the pause flag of target; pauseKey("") is their prefix.
func pauseKey(target string) []byte {
	return append([]byte{nsMeta, '/', 'p', 'a', 'u', 's', 'e', '/'}, target...)
}

func appendNS(dst []byte, ns byte) []byte {
	return append(dst, ns, '/')
}

func appendName(dst []byte, name string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	return append(dst, name...)
}

func appendU64(dst []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, v)
}

func dedupKey(source, id string) []byte {
	k := make([]byte, 0, 4+len(source)+len(id))
	k = appendNS(k, nsDedup)
	k = appendName(k, source)
	return append(k, id...)
}

func eventKey(seq uint64) []byte {
	return appendU64(appendNS(make([]byte, 0, 2+seqLength), nsEvent), seq)
}

func idPrefix(id string) []byte {
	k := make([]byte, 0, 3+len(id)+seqLength)
	return appendName(appendNS(k, nsID), id)
}

func idKey(id string, seq uint64) []byte {
	return appendU64(idPrefix(id), seq)
}

func statePrefix(seq uint64) []byte {
	return appendU64(appendNS(make([]byte, 0, 2+seqLength+16), nsState), seq)
}

func stateKey(seq uint64, target string) []byte {
	return append(statePrefix(seq), target...)
}

func queuePrefix(target string) []byte {
	k := make([]byte, 0, 3+len(target)+2*seqLength)
	return appendName(appendNS(k, nsQueue), target)
}

func queueKey(target string, due time.Time, seq uint64) []byte {
	return appendU64(appendU64(queuePrefix(target), timeToU64(due)), seq)
}

// statusPrefix returns the per-target status index prefix; the key is this
// prefix followed by the seq.
func statusPrefix(code byte, target string) []byte {
	k := make([]byte, 0, 4+len(target)+seqLength)
	return appendName(append(appendNS(k, nsStatus), code), target)
}

func statusKey(code byte, target string, seq uint64) []byte {
	return appendU64(statusPrefix(code, target), seq)
}

// globalPrefix returns the index prefix of events in a status that no
// target state records (unrouted); the key is this prefix followed by the
// seq. Events with targets are listed by status through their targets'
// s/ entries instead, which saves three writes per event.
func globalPrefix(code byte) []byte {
	return append(appendNS(make([]byte, 0, 3+seqLength), nsGlobal), code)
}

func globalKey(code byte, seq uint64) []byte {
	return appendU64(globalPrefix(code), seq)
}

func retainKey(until time.Time, seq uint64) []byte {
	return appendU64(appendU64(appendNS(make([]byte, 0, 2+2*seqLength), nsRetain), timeToU64(until)), seq)
}

// parseRetainKey splits a retention index key into its time and seq.
func parseRetainKey(key []byte) (until time.Time, seq uint64, err error) {
	if len(key) != 2+2*seqLength {
		return time.Time{}, 0, errBadKey
	}
	return u64ToTime(binary.BigEndian.Uint64(key[2:])), seqSuffix(key), nil
}

// seqSuffix reads the seq stored in the last eight bytes of an index key.
func seqSuffix(key []byte) uint64 {
	if len(key) < seqLength {
		return 0
	}
	return binary.BigEndian.Uint64(key[len(key)-seqLength:])
}

// parseQueueKey splits a queue key into its due time and seq.
func parseQueueKey(key []byte) (due time.Time, seq uint64, err error) {
	if len(key) < 2+1+2*seqLength {
		return time.Time{}, 0, errBadKey
	}
	tail := key[len(key)-2*seqLength:]
	return u64ToTime(binary.BigEndian.Uint64(tail)), binary.BigEndian.Uint64(tail[seqLength:]), nil
}

// parseStatusKey reads the target and seq of a per-target status index key.
func parseStatusKey(key []byte) (target string, seq uint64, err error) {
	if len(key) < 3+1+seqLength {
		return "", 0, errBadKey
	}
	rest := key[3 : len(key)-seqLength]
	n, w := binary.Uvarint(rest)
	if w <= 0 || uint64(len(rest)-w) != n {
		return "", 0, errBadKey
	}
	return string(rest[w:]), seqSuffix(key), nil
}

// timeToU64 maps a time to its Unix nanoseconds, clamping times before
// 1970 to zero so they still sort first, and times after 2262 to the
// largest value so they still sort last.
func timeToU64(t time.Time) uint64 {
	switch {
	case t.Before(unixEpoch):
		return 0
	case t.After(maxUnixNano):
		// UnixNano overflows past 2262: since=9999-12-31 became a time
		// before every event.
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// The range of times that UnixNano represents from 1970 on.
var (
	unixEpoch   = time.Unix(0, 0)
	maxUnixNano = time.Unix(0, math.MaxInt64)
)

func u64ToTime(v uint64) time.Time {
	if v > 1<<63-1 {
		v = 1<<63 - 1
	}
	return time.Unix(0, int64(v))
}

// seqTime is the receive time a seq encodes.
func seqTime(seq uint64) time.Time {
	return u64ToTime(seq)
}

// prefixEnd returns the smallest key greater than every key with the given
// prefix; reverse iterations seek there to start at the prefix's last key.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
