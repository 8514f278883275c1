package badger

import (
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Events are addressed by (source, id), as the dedup marker is: two
// sources may each hold an event with the same ID, and nothing done to
// one may reach the other.

// findSeqs returns the seqs of the stored events with this source and ID,
// oldest first. An empty source takes the ID under whichever source holds
// it, and *store.AmbiguousError when several do. store.ErrNotFound when
// none.
func findSeqs(txn *badger.Txn, source, id string) ([]uint64, error) {
	prefix := idPrefix(id)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var (
		seqs    []uint64
		sources []string
	)
	for it.Rewind(); it.Valid(); it.Next() {
		key := it.Item().Key()
		if len(key) != len(prefix)+seqLength {
			return nil, errBadKey
		}
		seq := seqSuffix(key)
		src, err := sourceOf(txn, seq)
		if err != nil {
			return nil, err
		}
		if source != "" && src != source {
			continue
		}
		if !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
		seqs = append(seqs, seq)
	}
	switch {
	case len(seqs) == 0:
		return nil, store.ErrNotFound
	case len(sources) > 1:
		slices.Sort(sources)
		return nil, &store.AmbiguousError{ID: id, Sources: sources}
	}
	return seqs, nil
}

// findSeq returns the seq of the newest stored event with this source and
// ID, resolved as findSeqs does.
func findSeq(txn *badger.Txn, source, id string) (uint64, error) {
	seqs, err := findSeqs(txn, source, id)
	if err != nil {
		return 0, err
	}
	return seqs[len(seqs)-1], nil
}

// sourceOf reads the source of event seq from its record, without the
// body.
func sourceOf(txn *badger.Txn, seq uint64) (string, error) {
	item, err := txn.Get(eventKey(seq))
	if err != nil {
		return "", err
	}
	var src string
	err = item.Value(func(v []byte) error {
		ev, err := decodeEvent(v, false)
		src = ev.Source
		return err
	})
	return src, err
}
