package nats

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Catalog reads first catch the view up with the cluster (a barrier
// write, follow.go), so every gateway answers with every write
// acknowledged before the call.

// Get returns the newest event (source, id) with its body; see
// store.Catalog.
func (s *Store) Get(ctx context.Context, source, id string) (*store.EventRecord, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := s.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("getting event %s: %w", id, s.classify(ctx, err))
	}
	s.v.mu.RLock()
	ev, err := s.v.find(source, id)
	var rec store.EventRecord
	if err == nil {
		rec = ev.record()
	}
	s.v.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("getting event %s: %w", id, err)
	}
	body, err := s.body(ctx, rec.Seq)
	if err != nil {
		return nil, fmt.Errorf("getting event %s: %w", id, s.classify(ctx, err))
	}
	rec.Body = body
	return &rec, nil
}

// List returns a page of events matching filter, newest first; see
// store.Catalog.
func (s *Store) List(ctx context.Context, f store.ListFilter) ([]store.EventRecord, string, error) {
	if err := s.enter(); err != nil {
		return nil, "", err
	}
	defer s.leave()
	before := uint64(0) // 0: from the newest
	if f.Cursor != "" {
		var ok bool
		if before, ok = s.parseCursor(f.Cursor); !ok {
			return nil, "", fmt.Errorf("listing events: %w", store.ErrBadCursor)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	limit = min(limit, store.MaxListLimit)
	if err := s.catchUp(ctx); err != nil {
		return nil, "", fmt.Errorf("listing events: %w", s.classify(ctx, err))
	}
	targets := slices.Clone(f.Targets)
	if f.Target != "" {
		targets = append(targets, f.Target)
	}

	var (
		out  []store.EventRecord
		next string
	)
	visit := func(ev *vEvent) bool {
		if ev.seq == before || !matches(ev, &f, targets) {
			return true
		}
		if len(out) == limit {
			next = s.cursor(out[len(out)-1].Seq)
			return false
		}
		out = append(out, ev.record())
		return true
	}
	s.v.mu.RLock()
	if before != 0 {
		s.v.order.DescendLessOrEqual(&vEvent{seq: before}, visit)
	} else {
		s.v.order.Descend(visit)
	}
	s.v.mu.RUnlock()
	if f.WithBody {
		for i := range out {
			body, err := s.body(ctx, out[i].Seq)
			if err != nil {
				return nil, "", fmt.Errorf("listing events: %w", s.classify(ctx, err))
			}
			out[i].Body = body
		}
	}
	return out, next, nil
}

// matches applies a list filter to one event. The caller holds v.mu.
func matches(ev *vEvent, f *store.ListFilter, targets []string) bool {
	m := ev.meta
	if (f.Source != "" && m.Source != f.Source) || (f.Type != "" && m.Type != f.Type) {
		return false
	}
	if (!f.Since.IsZero() && m.ReceivedAt.Before(f.Since)) || (!f.Until.IsZero() && !m.ReceivedAt.Before(f.Until)) {
		return false
	}
	if f.Status == store.StatusUnrouted {
		return len(targets) == 0 && len(m.Targets) == 0
	}
	if len(targets) == 0 {
		if f.Status == "" {
			return true
		}
		for _, st := range ev.states {
			if st.msg.Status == f.Status {
				return true
			}
		}
		return false
	}
	for _, t := range targets {
		st := ev.states[t]
		if st != nil && (f.Status == "" || st.msg.Status == f.Status) {
			return true
		}
	}
	return false
}

// A cursor is the seq of the last event listed and a checksum tying it to
// this stream, base64url: anything else is ErrBadCursor.
func (s *Store) cursor(seq uint64) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], seq)
	binary.BigEndian.PutUint32(b[8:], s.cursorSum(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Store) parseCursor(c string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 12 || binary.BigEndian.Uint32(b[8:]) != s.cursorSum(b[:8]) {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(b[:8])
	return seq, seq != 0
}

func (s *Store) cursorSum(seq []byte) uint32 {
	return crc32.Update(crc32.ChecksumIEEE([]byte(s.opts.Prefix)), crc32.IEEETable, seq)
}

// Stats returns per-target queue figures; see store.Catalog.
func (s *Store) Stats(ctx context.Context) (map[string]store.TargetStats, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := s.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("reading stats: %w", s.classify(ctx, err))
	}
	s.v.mu.RLock()
	defer s.v.mu.RUnlock()
	out := make(map[string]store.TargetStats, len(s.v.targets))
	for name, t := range s.v.targets {
		ts := store.TargetStats{Pending: int64(len(t.pending)), Dead: t.dead}
		for st := range t.pending {
			if r := st.ev.meta.ReceivedAt; ts.OldestPending.IsZero() || r.Before(ts.OldestPending) {
				ts.OldestPending = r
			}
		}
		if ts.Pending > 0 || ts.Dead > 0 {
			out[name] = ts
		}
	}
	return out, nil
}
