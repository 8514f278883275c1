package nats

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// eventMeta is an event record without its body. The record message is a
// 4-byte big-endian length, this JSON, then the raw body, so the view can
// decode the metadata and drop the body.
type eventMeta struct {
	ID         string            `json:"id"`
	Source     string            `json:"source"`
	Type       string            `json:"type,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	ClientIP   string            `json:"client_ip,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Targets    []string          `json:"targets,omitempty"`
	// OrderKeys are the event's non-empty order keys of its targets.
	OrderKeys map[string]string `json:"order_keys,omitempty"`
}

func encodeRecord(m *eventMeta, body []byte) ([]byte, error) {
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4, 4+len(meta)+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	return append(out, body...), nil
}

var errBadRecord = errors.New("malformed event record")

// decodeRecord returns the metadata and the body (a subslice of data).
func decodeRecord(data []byte) (*eventMeta, []byte, error) {
	if len(data) < 4 {
		return nil, nil, errBadRecord
	}
	n := int(binary.BigEndian.Uint32(data))
	if n > len(data)-4 {
		return nil, nil, errBadRecord
	}
	var m eventMeta
	if err := json.Unmarshal(data[4:4+n], &m); err != nil {
		return nil, nil, errBadRecord
	}
	return &m, data[4+n:], nil
}

func (m *eventMeta) event(body []byte) store.Event {
	ev := store.Event{
		ID: m.ID, Source: m.Source, Type: m.Type, ReceivedAt: m.ReceivedAt,
		ClientIP: m.ClientIP, Targets: append([]string(nil), m.Targets...),
	}
	if len(m.Headers) > 0 {
		ev.Headers = make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			ev.Headers[k] = v
		}
	}
	if len(m.OrderKeys) > 0 {
		ev.OrderKeys = make(map[string]string, len(m.OrderKeys))
		for k, v := range m.OrderKeys {
			ev.OrderKeys[k] = v
		}
	}
	if body != nil {
		ev.Body = append([]byte{}, body...)
	}
	return ev
}

// stateMsg is one target's delivery state, the body of a P.st message.
// Holder names the store that leases the entry; empty when not leased.
// Key is the entry's order key for the target, empty when unordered, and
// Line its position in the key's line (see ordering.go): zero in the
// message that (re)enters the line, which stands for that message's own
// stream sequence; the view fills it in, so every later write of the
// entry carries it.
type stateMsg struct {
	Status    store.Status    `json:"status"`
	Due       time.Time       `json:"due,omitzero"`
	Since     time.Time       `json:"since"`
	UpdatedAt time.Time       `json:"updated_at"`
	Reason    string          `json:"reason,omitempty"`
	Run       int             `json:"run,omitempty"`
	Attempts  []store.Attempt `json:"attempts,omitempty"`
	Holder    string          `json:"holder,omitempty"`
	Key       string          `json:"key,omitempty"`
	Line      uint64          `json:"line,omitempty"`
}

func (s *stateMsg) public(target string) store.TargetState {
	return store.TargetState{
		Target: target, Status: s.Status, Due: s.Due, Since: s.Since, UpdatedAt: s.UpdatedAt,
		Reason: s.Reason, RunAttempts: s.Run, Attempts: append([]store.Attempt(nil), s.Attempts...),
	}
}

// withAttempt returns a copy of s with one attempt more in its run and
// history (excerpted, capped at MaxAttemptHistory).
func (s stateMsg) withAttempt(a store.Attempt, now time.Time) stateMsg {
	a.Error, a.Body = store.Excerpt(a.Error), store.Excerpt(a.Body)
	hist := make([]store.Attempt, 0, min(len(s.Attempts)+1, store.MaxAttemptHistory))
	if drop := len(s.Attempts) + 1 - store.MaxAttemptHistory; drop > 0 {
		hist = append(hist, s.Attempts[drop:]...)
	} else {
		hist = append(hist, s.Attempts...)
	}
	s.Attempts = append(hist, a)
	s.Run++
	s.UpdatedAt = now
	s.Holder = ""
	return s
}
