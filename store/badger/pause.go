package badger

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// SetPaused pauses or resumes target. The flag is a key of its own
// (m/pause/<target>), written synchronously, so it survives restarts.
func (in *Store) SetPaused(_ context.Context, target string, paused bool) error {
	if err := in.enter(); err != nil {
		return err
	}
	defer in.life.RUnlock()
	err := in.update(func(txn *badger.Txn) error {
		if paused {
			return txn.Set(pauseKey(target), nil)
		}
		return txn.Delete(pauseKey(target))
	})
	if err != nil {
		return fmt.Errorf("setting pause of target %s: %w", target, err)
	}
	if !paused {
		in.wake(target)
	}
	return nil
}

// Paused returns the paused targets.
func (in *Store) Paused(context.Context) (map[string]bool, error) {
	if err := in.enter(); err != nil {
		return nil, err
	}
	defer in.life.RUnlock()
	out := make(map[string]bool)
	err := in.db.View(func(txn *badger.Txn) error {
		prefix := pauseKey("")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out[string(it.Item().Key()[len(prefix):])] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading paused targets: %w", err)
	}
	return out, nil
}
