package nats

// Watch signals target's watchers when the view applies a state of
// target that is pending, not leased and leasable (unordered, or at the
// front of its line), or moves the next entry of a line to the front,
// whoever wrote it (this store or another gateway), and when a lease
// holder says goodbye; see store.Queue.
func (s *Store) Watch(target string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.watchMu.Lock()
	set := s.watchers[target]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		s.watchers[target] = set
	}
	set[ch] = struct{}{}
	s.watchMu.Unlock()
	return ch, func() {
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		delete(s.watchers[target], ch)
		if len(s.watchers[target]) == 0 {
			delete(s.watchers, target)
		}
	}
}

// signal wakes target's watchers; a signal already pending folds the new
// one.
func (s *Store) signal(target string) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for ch := range s.watchers[target] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
