package nats

import (
	"encoding/base64"
	"strings"
)

// The stream's subjects, under the prefix P. Every subject keeps only its
// last message (MaxMsgsPerSubject 1), so the stream is a set of records
// that each write replaces, like a KV bucket; a delete writes a tombstone.
//
//	P.dedup.<source>.<id>   dedup marker: the event's key, with a TTL
//	P.ev.<key>              event record: metadata and body, written once
//	P.st.<key>.<target>     one target's delivery state (the queue entry)
//	P.hb.<holder>           a store's heartbeat: its leases are live
//	P.pause.<target>        a paused target
//	P.sync.<holder>         a barrier a store writes to catch its view up
//
// <key> is a NUID made at Accept; source, id and target are base64url
// (unpadded), so any byte string is a valid subject token.
const (
	kindDedup = "dedup"
	kindEvent = "ev"
	kindState = "st"
	kindHeart = "hb"
	kindPause = "pause"
	kindSync  = "sync"
)

// Headers of the backend's own messages.
const (
	// hdrOp marks a tombstone ("del"): the record it replaces is gone.
	hdrOp = "Inbox-Op"
	opDel = "del"
)

type subjects struct{ prefix string }

func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func untoken(t string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	return string(b), err == nil
}

func (s subjects) all() string { return s.prefix + ".>" }
func (s subjects) dedup(source, id string) string {
	return s.prefix + "." + kindDedup + "." + token(source) + "." + token(id)
}
func (s subjects) event(key string) string { return s.prefix + "." + kindEvent + "." + key }
func (s subjects) state(key, target string) string {
	return s.prefix + "." + kindState + "." + key + "." + token(target)
}
func (s subjects) heart(holder string) string { return s.prefix + "." + kindHeart + "." + holder }
func (s subjects) pause(target string) string {
	return s.prefix + "." + kindPause + "." + token(target)
}
func (s subjects) sync(holder string) string { return s.prefix + "." + kindSync + "." + holder }

// watched are the subjects a store's view follows: everything but the
// dedup markers, which only Accept's expected-sequence check reads.
func (s subjects) watched() []string {
	return []string{
		s.prefix + "." + kindEvent + ".*",
		s.prefix + "." + kindState + ".*.*",
		s.prefix + "." + kindHeart + ".*",
		s.prefix + "." + kindPause + ".*",
		s.prefix + "." + kindSync + ".*",
	}
}

// parse splits a watched subject into its kind and tokens after the kind.
func (s subjects) parse(subject string) (kind string, rest []string, ok bool) {
	tail, found := strings.CutPrefix(subject, s.prefix+".")
	if !found {
		return "", nil, false
	}
	parts := strings.Split(tail, ".")
	return parts[0], parts[1:], true
}
