package rules

import (
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// headerMap is the `headers` variable: a CEL map over Vars.Headers whose key
// lookups ignore case, as HTTP header names do. Go's canonical form of
// X-UniCraft-Event-Id is X-Unicraft-Event-Id, so without this the spelling that
// senders document, `headers["X-UniCraft-Event-Id"]`, would never match.
// Iteration and size are those of the underlying map.
type headerMap struct {
	traits.Mapper
	native map[string]string
}

// newHeaderMap wraps h for evaluation.
func newHeaderMap(h map[string]string) headerMap {
	return headerMap{Mapper: types.NewStringStringMap(types.DefaultTypeAdapter, h), native: h}
}

// Find looks key up exactly, then ignoring case.
func (m headerMap) Find(key ref.Val) (ref.Val, bool) {
	v, found := m.Mapper.Find(key)
	name, ok := key.(types.String)
	if found || !ok {
		return v, found
	}
	for k, v := range m.native {
		if strings.EqualFold(k, string(name)) {
			return types.String(v), true
		}
	}
	return nil, false
}

// Get returns the value of key, or a "no such key" error.
func (m headerMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Contains reports whether key is present, ignoring case.
func (m headerMap) Contains(key ref.Val) ref.Val {
	_, found := m.Find(key)
	return types.Bool(found)
}

// Interface guards
var _ traits.Mapper = headerMap{}
