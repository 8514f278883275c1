package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/signature"
)

// A generated event is the request.completed payload of UniCraft's webhook
// documentation with a padding field that brings
// the body to the requested size, then a unique id and the current
// timestamp:
//
//	{"event":"request.completed","data":{...,"padding":"xxx"},"id":"evt_…","timestamp":"2026-11-28T18:42:00Z"}
//
// Everything that changes per event sits at the end, so the large constant
// part is built once and its HMAC state is kept: signing an event hashes
// only its last ~80 bytes, whatever -size is. JSON readers do not care
// about key order, and the inbox takes the ID from X-UniCraft-Event-Id.
const (
	eventType    = "request.completed"
	bodyHead     = `{"event":"` + eventType + `","data":{"request_id":"req_123456789","model":"gpt-3.5-turbo","provider":"openai","cost":0.000042,"response_time":1250,"tokens":{"prompt":50,"completion":25,"total":75},"user_id":"user_123","project_id":"proj_456","padding":"`
	bodyMiddle   = `"},`
	tailBeforeID = `"id":"`
	tailBeforeTS = `","timestamp":"`
	tailEnd      = `"}`

	// An event ID is evt_<run>_<worker>_<seq>: 8 hex digits naming the run
	// (so IDs never repeat across runs), 4-digit worker, 10-digit sequence.
	runIDLen  = 8
	workerLen = 4
	seqLen    = 10
	idLen     = len("evt_") + runIDLen + 1 + workerLen + 1 + seqLen
	// maxConns keeps the worker number within its digits.
	maxConns = 9999
	// timestampLen is RFC 3339 in UTC with whole seconds.
	timestampLen = len("2006-01-02T15:04:05Z")
	tailLen      = len(tailBeforeID) + idLen + len(tailBeforeTS) + timestampLen + len(tailEnd)
	// minBodySize is an event with empty padding.
	minBodySize = len(bodyHead) + len(bodyMiddle) + tailLen
)

// eventHead returns the constant part of every event of size bytes: all
// but the tail with the id and timestamp.
func eventHead(size int) ([]byte, error) {
	pad := size - minBodySize
	if pad < 0 {
		return nil, fmt.Errorf("body size %d is below the smallest event, %d bytes", size, minBodySize)
	}
	head := make([]byte, 0, size-tailLen)
	head = append(head, bodyHead...)
	head = append(head, strings.Repeat("x", pad)...)
	head = append(head, bodyMiddle...)
	return head, nil
}

// eventMaker makes the unique events of one sender. It is not safe for
// concurrent use: each worker has its own.
type eventMaker struct {
	head   []byte      // shared with the other workers, never written
	signed hash.Cloner // HMAC-SHA256 keyed with the secret, head absorbed; nil if cloning is unsupported
	secret []byte
	stem   string // "evt_<run>_<worker>_"
	seq    uint64
	sum    [sha256.Size]byte
}

// newEventMaker prepares worker's events on head, signed with secret.
func newEventMaker(head, secret []byte, runID string, worker int) *eventMaker {
	m := &eventMaker{
		head:   head,
		secret: secret,
		stem:   fmt.Sprintf("evt_%s_%0*d_", runID, workerLen, worker),
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(head)
	if c, ok := mac.(hash.Cloner); ok {
		if _, err := c.Clone(); err == nil {
			m.signed = c
		}
	}
	return m
}

// next returns the tail of the next event (the body is head followed by
// tail), its ID and its X-UniCraft-Signature.
func (m *eventMaker) next(now time.Time) (tail []byte, id, signature string) {
	m.seq++
	tail = make([]byte, 0, tailLen)
	tail = append(tail, tailBeforeID...)
	tail = append(tail, m.stem...)
	tail = appendFixed(tail, m.seq, seqLen)
	tail = append(tail, tailBeforeTS...)
	tail = now.UTC().AppendFormat(tail, time.RFC3339)
	tail = append(tail, tailEnd...)
	id = string(tail[len(tailBeforeID) : len(tailBeforeID)+idLen])
	return tail, id, m.sign(tail)
}

// sign returns the hex HMAC of head+tail.
func (m *eventMaker) sign(tail []byte) string {
	if m.signed == nil {
		body := make([]byte, 0, len(m.head)+len(tail))
		return signature.SignUniCraft(m.secret, append(append(body, m.head...), tail...))
	}
	h, err := m.signed.Clone()
	if err != nil { // checked in newEventMaker; cannot change afterwards
		panic(err)
	}
	h.Write(tail)
	return hex.EncodeToString(h.Sum(m.sum[:0]))
}

// appendFixed appends v as exactly width decimal digits (zero-padded,
// keeping the lowest digits if v is wider).
func appendFixed(b []byte, v uint64, width int) []byte {
	start := len(b)
	for range width {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= start; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}
