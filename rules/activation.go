package rules

import (
	"cel.dev/cel-go/interpreter"
)

// activation hands the variables to the interpreter straight from Vars, so an
// evaluation builds no map of bindings. It holds a single pointer, which makes
// storing it in the interpreter.Activation interface free of allocation.
type activation struct {
	vars *Vars
}

// ResolveName returns the value of a declared variable. The event is returned as it
// is, since the interpreter reads map[string]any natively; the headers get
// case-insensitive lookups.
func (a activation) ResolveName(name string) (any, bool) {
	switch name {
	case varEvent:
		return a.vars.Event, true
	case varHeaders:
		return newHeaderMap(a.vars.Headers), true
	case varSourceIP:
		return a.vars.SourceIP, true
	case varSource:
		return a.vars.Source, true
	case varType:
		return a.vars.Type, true
	case varID:
		return a.vars.ID, true
	}
	return nil, false
}

// Parent returns nil: the declared variables are all there is.
func (activation) Parent() interpreter.Activation {
	return nil
}

// Interface guards
var _ interpreter.Activation = activation{}
