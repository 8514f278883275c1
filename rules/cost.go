package rules

import (
	"cel.dev/cel-go/checker"
)

// Size hints for the compile-time cost estimate. Without them CEL assumes every
// string, list and map may be endlessly large, so any loop or string scan over the
// input would be "unbounded" and nothing useful would compile.
//
// The hints describe a large but ordinary event, not the worst one: an `event` value
// is declared dyn, so one hint covers strings, lists and maps alike, and sizing it
// at the 1 MiB body limit would reject a plain `event.data.items.exists(...)`. What
// the estimate is for is rejecting shapes that explode (nested loops over the input,
// string building inside loops); an actual value larger than its hint is still
// bounded at runtime by MaxIterations.
const (
	// hintEventSize bounds any value inside the JSON body: characters of a string,
	// items of a list or entries of a map.
	hintEventSize = 10_000
	// hintHeaderCount bounds the number of request headers.
	hintHeaderCount = 100
	// hintHeaderSize bounds one header name or value; 8 KiB is the usual
	// per-line limit of HTTP servers and proxies.
	hintHeaderSize = 8 << 10
	// hintSourceIPSize bounds a textual IP address, IPv6 with a zone included.
	hintSourceIPSize = 64
	// hintSourceSize bounds a handler name.
	hintSourceSize = 256
)

// sizeHints is the checker.CostEstimator that applies the hints above to the four
// variables and everything reached through them.
type sizeHints struct{}

// EstimateSize returns the hint for a node reached from one of the variables; the
// first element of its path names the variable.
func (sizeHints) EstimateSize(node checker.AstNode) *checker.SizeEstimate {
	path := node.Path()
	if len(path) == 0 {
		return nil
	}
	var limit uint64
	switch path[0] {
	case varEvent:
		limit = hintEventSize
	case varHeaders:
		limit = hintHeaderSize
		if len(path) == 1 {
			limit = hintHeaderCount
		}
	case varSourceIP:
		limit = hintSourceIPSize
	case varSource:
		limit = hintSourceSize
	case varType, varID:
		limit = hintEventSize
	default:
		return nil
	}
	return &checker.SizeEstimate{Min: 0, Max: limit}
}

// EstimateCallCost returns nil: the standard library's own call costs apply.
func (sizeHints) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}
