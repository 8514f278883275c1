package badger

import "sync"

// notifier lets leasing loops sleep until their queue may have work. The
// committer signals after every commit that queues something due, so a
// fresh event reaches its target within milliseconds instead of on the next
// poll. Signals are non-blocking sends on channels of capacity one: a burst
// of accepts folds into one wake-up, and a slow loop never holds up the
// committer.
type notifier struct {
	mu   sync.RWMutex
	subs map[string][]chan struct{}
}

// Watch returns a channel that receives a signal whenever target's queue
// gets an entry that is due now, and a function that stops the signals.
// Every caller gets its own channel, so a loop that is shutting down can
// never swallow the signal meant for the loop replacing it.
func (in *Store) Watch(target string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n := &in.notify
	n.mu.Lock()
	if n.subs == nil {
		n.subs = make(map[string][]chan struct{})
	}
	n.subs[target] = append(n.subs[target], ch)
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		subs := n.subs[target]
		for i, c := range subs {
			if c == ch {
				subs = append(subs[:i:i], subs[i+1:]...)
				break
			}
		}
		if len(subs) == 0 {
			delete(n.subs, target)
		} else {
			n.subs[target] = subs
		}
	}
}

// wake signals every loop watching target without blocking.
func (in *Store) wake(target string) {
	n := &in.notify
	n.mu.RLock()
	for _, ch := range n.subs[target] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	n.mu.RUnlock()
}
