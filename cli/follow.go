package cli

// cliFollowed is the bounded set of pending events `webhook tail` has
// printed and follows: each with the line it last printed, in the order
// they are due to be checked (least recently checked first).
type cliFollowed struct {
	max   int
	lines map[cliEventKey]string
	order []cliEventKey // may hold keys already removed from lines
}

func newCLIFollowed(max int) cliFollowed {
	return cliFollowed{max: max, lines: map[cliEventKey]string{}}
}

func (f *cliFollowed) has(key cliEventKey) bool {
	_, ok := f.lines[key]
	return ok
}

func (f *cliFollowed) get(key cliEventKey) (string, bool) {
	line, ok := f.lines[key]
	return line, ok
}

// set records the line last printed for a followed event.
func (f *cliFollowed) set(key cliEventKey, line string) {
	if _, ok := f.lines[key]; ok {
		f.lines[key] = line
	}
}

// add follows key; when the set is full, the event followed longest
// without a check is let go.
func (f *cliFollowed) add(key cliEventKey, line string) {
	if f.has(key) {
		f.lines[key] = line
		return
	}
	for len(f.lines) >= f.max && len(f.order) > 0 {
		delete(f.lines, f.order[0])
		f.order = f.order[1:]
	}
	f.lines[key] = line
	f.order = append(f.order, key)
	f.compact()
}

func (f *cliFollowed) remove(key cliEventKey) {
	delete(f.lines, key)
	f.compact()
}

// due returns up to n followed events not in skip, least recently
// checked first, and moves them to the back of the order.
func (f *cliFollowed) due(n int, skip map[cliEventKey]bool) []cliEventKey {
	var out []cliEventKey
	rest := f.order[:0:0]
	seen := make(map[cliEventKey]bool, len(f.lines))
	for _, key := range f.order {
		if _, ok := f.lines[key]; !ok || seen[key] {
			continue
		}
		seen[key] = true
		if len(out) < n && !skip[key] {
			out = append(out, key)
			continue
		}
		rest = append(rest, key)
	}
	f.order = append(rest, out...)
	return out
}

// compact drops removed keys from the order once they are half of it,
// so the order stays within twice the set's size.
func (f *cliFollowed) compact() {
	if len(f.order) <= 2*len(f.lines)+16 {
		return
	}
	live := f.order[:0]
	for _, key := range f.order {
		if _, ok := f.lines[key]; ok {
			live = append(live, key)
		}
	}
	f.order = live
}
