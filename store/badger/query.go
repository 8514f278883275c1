package badger

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Get returns the newest stored event (source, id), with every target's
// state and attempt history; see store.Catalog.
func (in *Store) Get(_ context.Context, source, id string) (*store.EventRecord, error) {
	if err := in.enter(); err != nil {
		return nil, err
	}
	defer in.life.RUnlock()
	var rec *store.EventRecord
	err := in.db.View(func(txn *badger.Txn) error {
		seq, err := findSeq(txn, source, id)
		if err != nil {
			return err
		}
		rec, err = loadRecord(txn, seq, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("getting event %s: %w", id, err)
	}
	return rec, nil
}

func loadRecord(txn *badger.Txn, seq uint64, withBody bool) (*store.EventRecord, error) {
	item, err := txn.Get(eventKey(seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var ev store.Event
	if err := item.Value(func(v []byte) (err error) {
		ev, err = decodeEvent(v, withBody)
		return err
	}); err != nil {
		return nil, err
	}
	states, err := loadStates(txn, seq)
	if err != nil {
		return nil, err
	}
	rec := &store.EventRecord{
		Event:      ev,
		Seq:        seq,
		Status:     summarize(states),
		Deliveries: make([]store.TargetState, len(states)),
	}
	for i, st := range states {
		rec.Deliveries[i] = st.public()
	}
	return rec, nil
}

// Source and type have no index: List reads indexed pages of this many
// events and keeps those that match, and gives up after examining
// filterScanBudget events in one call, answering the cursor after the
// last one it examined, so one request never scans the whole store.
const (
	filterPageSize   = 200
	filterScanBudget = 10_000
)

// List returns up to filter.Limit events, newest first, and the cursor of
// the next page, empty when this page is the last. Status, targets and
// time are served by indexes whose keys end in the seq, so a page costs
// about Limit key reads however many events do not match; source and type
// are filtered while streaming (see filterScanBudget).
func (in *Store) List(_ context.Context, filter store.ListFilter) ([]store.EventRecord, string, error) {
	if filter.Source == "" && filter.Type == "" {
		return in.list(filter)
	}
	limit := filter.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	limit = min(limit, store.MaxListLimit)
	f := filter
	f.Limit = filterPageSize
	var out []store.EventRecord
	scanned := 0
	for {
		page, next, err := in.list(f)
		if err != nil {
			return nil, "", err
		}
		for i := range page {
			rec := &page[i]
			scanned++
			if (filter.Source == "" || rec.Source == filter.Source) && (filter.Type == "" || rec.Type == filter.Type) {
				out = append(out, *rec)
			}
			if len(out) == limit || scanned >= filterScanBudget {
				if i == len(page)-1 && next == "" {
					return out, "", nil
				}
				return out, cursor(rec.Seq), nil
			}
		}
		if next == "" {
			return out, "", nil
		}
		f.Cursor = next
	}
}

// list is List served by the indexes alone (filter.Source and
// filter.Type are ignored).
func (in *Store) list(filter store.ListFilter) ([]store.EventRecord, string, error) {
	limit := filter.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	limit = min(limit, store.MaxListLimit)
	var before uint64
	if filter.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(filter.Cursor)
		if err != nil || len(b) != seqLength || seqSuffix(b) == 0 {
			return nil, "", fmt.Errorf("listing events: %w", store.ErrBadCursor)
		}
		before = seqSuffix(b)
	}
	if !filter.Until.IsZero() {
		until := timeToU64(filter.Until)
		if until == 0 {
			// Before 1970: nothing was received then.
			return nil, "", nil
		}
		if before == 0 || until < before {
			before = until
		}
	}
	var floor uint64
	if !filter.Since.IsZero() {
		floor = timeToU64(filter.Since)
	}
	targets := filter.Targets
	if filter.Target != "" {
		targets = append(slices.Clip(targets), filter.Target)
	}
	if filter.Status != "" {
		if _, ok := codeOf(filter.Status); !ok {
			return nil, "", fmt.Errorf("listing events: unknown status %q", filter.Status)
		}
	}
	if err := in.enter(); err != nil {
		return nil, "", err
	}
	defer in.life.RUnlock()

	var (
		out  []store.EventRecord
		next string
	)
	err := in.db.View(func(txn *badger.Txn) error {
		seqs := newestSeqs(txn, listPrefixes(txn, filter.Status, targets), before, floor, limit+1)
		if len(seqs) > limit {
			seqs = seqs[:limit]
			next = cursor(seqs[limit-1])
		}
		out = make([]store.EventRecord, 0, len(seqs))
		for _, seq := range seqs {
			rec, err := loadRecord(txn, seq, filter.WithBody)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			rec.Cursor = cursor(seq)
			out = append(out, *rec)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("listing events: %w", err)
	}
	return out, next, nil
}

// cursor returns the List cursor that continues after the event with this
// seq.
func cursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString(appendU64(nil, seq))
}

// listPrefixes picks the index prefixes that answer a filter, whose status
// List has checked; every key under them is the prefix followed by a seq.
// A status without targets is answered by every target's index for that
// status, merged.
func listPrefixes(txn *badger.Txn, status store.Status, targets []string) [][]byte {
	code, _ := codeOf(status)
	switch {
	case len(targets) == 0 && status == "":
		return [][]byte{appendNS(nil, nsEvent)}
	case code == codeUnrouted && len(targets) == 0:
		return [][]byte{globalPrefix(code)}
	case code == codeUnrouted:
		// An unrouted event has no targets, so no target can match.
		return nil
	case len(targets) == 0:
		targets = statusTargets(txn, code)
	}
	var prefixes [][]byte
	for i, t := range targets {
		if slices.Contains(targets[:i], t) {
			continue
		}
		if status != "" {
			prefixes = append(prefixes, statusPrefix(code, t))
			continue
		}
		prefixes = append(prefixes,
			statusPrefix(codePending, t),
			statusPrefix(codeDelivered, t),
			statusPrefix(codeDead, t))
	}
	return prefixes
}

// statusTargets returns the targets that have entries in the status index
// for code, reading one key per target.
func statusTargets(txn *badger.Txn, code byte) []string {
	prefix := append(appendNS(nil, nsStatus), code)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var targets []string
	for it.Rewind(); it.Valid(); {
		target, _, err := parseStatusKey(it.Item().Key())
		if err != nil {
			it.Next()
			continue
		}
		targets = append(targets, target)
		it.Seek(prefixEnd(statusPrefix(code, target)))
	}
	return targets
}

// newestSeqs merges reverse scans of the prefixes and returns up to n
// distinct seqs below before (0: no bound) and at or above floor,
// highest first.
func newestSeqs(txn *badger.Txn, prefixes [][]byte, before, floor uint64, n int) []uint64 {
	start := ^uint64(0)
	if before > 0 {
		start = before - 1
	}
	its := make([]*badger.Iterator, 0, len(prefixes))
	defer func() {
		for _, it := range its {
			it.Close()
		}
	}()
	for _, p := range prefixes {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, Reverse: true})
		it.Seek(appendU64(slices.Clip(p), start))
		its = append(its, it)
	}
	var out []uint64
	for len(out) < n {
		found := false
		var top uint64
		for _, it := range its {
			if it.Valid() {
				if s := seqSuffix(it.Item().Key()); !found || s > top {
					top, found = s, true
				}
			}
		}
		if !found || top < floor {
			break
		}
		// An event can sit under several prefixes (one per target
		// status); step every scan past it so it is listed once.
		for _, it := range its {
			if it.Valid() && seqSuffix(it.Item().Key()) == top {
				it.Next()
			}
		}
		out = append(out, top)
	}
	return out
}

// Stats returns, per target with anything pending or dead, the pending
// count (kept in memory, recounted from the index on Open), the dead
// letter count (counted from the dead index each time, since retention
// expires dead letters silently) and the oldest pending receive time.
// Targets with nothing pending or dead are absent.
func (in *Store) Stats(context.Context) (map[string]store.TargetStats, error) {
	if err := in.enter(); err != nil {
		return nil, err
	}
	defer in.life.RUnlock()

	out := make(map[string]store.TargetStats)
	in.countMu.Lock()
	for t, n := range in.pending {
		out[t] = store.TargetStats{Pending: n}
	}
	in.countMu.Unlock()

	err := in.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: append(appendNS(nil, nsStatus), codeDead)})
		for it.Rewind(); it.Valid(); it.Next() {
			target, _, err := parseStatusKey(it.Item().Key())
			if err != nil {
				it.Close()
				return err
			}
			st := out[target]
			st.Dead++
			out[target] = st
		}
		it.Close()
		for target, st := range out {
			if st.Pending == 0 {
				continue
			}
			it := txn.NewIterator(badger.IteratorOptions{Prefix: statusPrefix(codePending, target)})
			it.Rewind()
			if it.Valid() {
				st.OldestPending = seqTime(seqSuffix(it.Item().Key()))
				out[target] = st
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading inbox stats: %w", err)
	}
	return out, nil
}
