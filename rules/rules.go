// Package rules compiles the inbox's CEL expressions (route rules, the event-ID
// expression, order_by keys and replay filters) into programs and evaluates them on
// a webhook event.
//
// Every expression sees the same six variables:
//
//	event      map(string, dyn)     the parsed JSON body (numbers are doubles)
//	headers    map(string, string)  header name to its first value; lookups ignore case
//	source_ip  string               the client IP
//	source     string               the name of the handler that received the event
//	type       string               the event type, where the source's scheme reads it
//	id         string               the event ID (in the id expression: the scheme's default)
//
// Compiled values are immutable and safe for concurrent use, so a config compiles
// them once and every request reuses them. Evaluation is bounded twice: an
// expression whose estimated worst-case cost exceeds MaxCost does not compile, and an
// evaluation that reaches MaxIterations loop steps stops with ErrCostLimit.
//
// The package depends on cel-go and the standard library only, never on Caddy.
package rules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// MaxCost is the ceiling on an expression's estimated worst-case cost; a costlier
// expression does not compile. A cost unit is roughly one CEL operation (a field
// access, a comparison, one loop step, ten characters of a string scan), so one
// million stays in the low milliseconds. Kubernetes uses the same per-expression
// budget for its CEL validation rules. The estimate sizes the input with the hints
// in cost.go, which rules out nested loops over the event and string building
// inside loops.
const MaxCost = 1_000_000

// MaxIterations bounds the loop steps (of all, exists, exists_one, map, filter) that
// one evaluation may take, summed over every loop in the expression; an evaluation
// that reaches it stops with ErrCostLimit. It is the runtime guard for input larger
// than the estimate assumed, such as a 1 MiB body holding one list of 200,000
// numbers.
//
// The guard counts loop steps instead of using cel.CostLimit: cel-go v0.32.0's cost
// tracker makes every loop quadratic in its length (20,000 steps take about 0.5 s
// instead of 3 ms, so a loop stopped at a million cost units would run for tens of
// seconds) and makes a plain rule about five times slower. Loops are the only way
// an expression's work outgrows its text times its input, so counting them is enough.
const MaxIterations = 100_000

// ErrCostLimit is wrapped by the error of an evaluation that reached MaxIterations.
var ErrCostLimit = errors.New("cost limit exceeded")

// Vars are the values an expression sees.
type Vars struct {
	// Event is the parsed JSON body, as decoded by encoding/json into a map.
	Event map[string]any
	// Headers maps each canonical header name (as in http.Header) to its first
	// value. Expressions look names up ignoring case.
	Headers map[string]string
	// SourceIP is the client IP the request came from.
	SourceIP string
	// Source is the name of the handler that received the event.
	Source string
	// Type is the event type as the source's scheme reads it (the body's
	// "event" for UniCraft, X-GitHub-Event for GitHub, …).
	Type string
	// ID is the event's ID; while the id expression itself runs, the ID the
	// scheme would use by default.
	ID string
}

// CompileError reports a rule that does not compile, with its text and position.
type CompileError struct {
	// Rule is the source text of the expression.
	Rule string
	// Line is the 1-based line of the problem, or 0 if CEL gave no position.
	Line int
	// Column is the 1-based column (in characters) of the problem, or 0 if CEL
	// gave no position.
	Column int
	// Msg describes the problem.
	Msg string
}

// Error returns the rule text, its line:column and the problem, for example
// `rule "evnt.event == 1": 1:1: undeclared reference to 'evnt'`.
func (e *CompileError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("rule %q: %s", e.Rule, e.Msg)
	}
	return fmt.Sprintf("rule %q: %d:%d: %s", e.Rule, e.Line, e.Column, e.Msg)
}

// Variable names, shared by the declarations, the activation and the cost hints.
const (
	varEvent    = "event"
	varHeaders  = "headers"
	varSourceIP = "source_ip"
	varSource   = "source"
	varType     = "type"
	varID       = "id"
)

// sharedEnv is built once: declaring the standard library is the slow part of
// compiling, and a cel.Env is safe for concurrent use.
var sharedEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable(varEvent, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(varHeaders, cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable(varSourceIP, cel.StringType),
		cel.Variable(varSource, cel.StringType),
		cel.Variable(varType, cel.StringType),
		cel.Variable(varID, cel.StringType),
		// JSON numbers are doubles: let `size(event.items) > 2.0` and
		// `event.data.retry_count == 3` mean what they say.
		cel.CrossTypeNumericComparisons(true),
	)
})

// stopLoops is an already cancelled context. Evaluating under it with
// cel.InterruptCheckFrequency(MaxIterations) lets loops run until the first
// interrupt check, which cel-go makes after MaxIterations loop steps: an iteration
// budget that costs one atomic add per step.
var stopLoops = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// noVars stands in for a nil *Vars: every variable is empty.
var noVars Vars

// program is a checked, cost-bounded and planned expression.
type program struct {
	kind  string // what the expression is to the user, for runtime errors
	src   string
	prg   cel.Program
	loops bool // the expression has a comprehension, so it runs under the iteration budget
}

// compile parses and checks expr, rejects it unless its output type is one of want,
// rejects it if its estimated cost exceeds MaxCost, and plans it for evaluation.
// kind names the expression in runtime errors ("rule") and what names the expected
// result in the type error ("bool").
func compile(kind, expr, what string, want ...*cel.Type) (program, error) {
	if strings.TrimSpace(expr) == "" {
		return program{}, &CompileError{Rule: expr, Line: 1, Column: 1, Msg: "empty expression"}
	}
	env, err := sharedEnv()
	if err != nil {
		return program{}, fmt.Errorf("building cel environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return program{}, issueError(expr, iss.Errors())
	}
	root := ast.NativeRep()
	rootLoc := root.SourceInfo().GetStartLocation(root.Expr().ID())
	out := ast.OutputType()
	typeOK := false
	for _, t := range want {
		typeOK = typeOK || out.IsExactType(t) || sameContainer(out, t)
	}
	if !typeOK {
		return program{}, locatedError(expr, rootLoc,
			fmt.Sprintf("expression must be %s, got %s", what, out))
	}
	est, err := env.EstimateCost(ast, sizeHints{})
	if err != nil {
		return program{}, locatedError(expr, rootLoc, fmt.Sprintf("estimating cost: %v", err))
	}
	if est.Max > MaxCost {
		return program{}, locatedError(expr, rootLoc,
			fmt.Sprintf("estimated cost %s exceeds the limit of %d", costString(est.Max), MaxCost))
	}
	prg, err := env.Program(ast,
		cel.EvalOptions(cel.OptOptimize),
		cel.InterruptCheckFrequency(MaxIterations))
	if err != nil {
		return program{}, locatedError(expr, rootLoc, fmt.Sprintf("planning: %v", err))
	}
	loops := len(celast.MatchDescendants(celast.NavigateAST(root), celast.KindMatcher(celast.ComprehensionKind))) > 0
	return program{kind: kind, src: expr, prg: prg, loops: loops}, nil
}

// eval runs the program on v; a nil v evaluates with every variable empty. Only an
// expression with loops pays for the iteration budget.
func (p program) eval(v *Vars) (ref.Val, error) {
	if v == nil {
		v = &noVars
	}
	var (
		out ref.Val
		err error
	)
	if p.loops {
		out, _, err = p.prg.ContextEval(stopLoops, activation{vars: v})
	} else {
		out, _, err = p.prg.Eval(activation{vars: v})
	}
	if err != nil {
		if errors.Is(err, interpreter.InterruptError{}) {
			return nil, fmt.Errorf("evaluating %s %q: %w (%d loop steps)", p.kind, p.src, ErrCostLimit, MaxIterations)
		}
		return nil, fmt.Errorf("evaluating %s %q: %w", p.kind, p.src, err)
	}
	return out, nil
}

// sameContainer reports whether out and want are both maps or both lists,
// whatever their element types: a transform may yield map(string, string) as
// well as map(string, dyn).
func sameContainer(out, want *cel.Type) bool {
	k := want.Kind()
	return (k == types.MapKind || k == types.ListKind) && out.Kind() == k
}

// costString prints an estimate, naming the overflowed maximum instead of a 20-digit number.
func costString(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return fmt.Sprint(c)
}

// issueError turns the first CEL issue, in source order, into a CompileError.
func issueError(expr string, errs []*cel.Error) error {
	if len(errs) == 0 {
		return &CompileError{Rule: expr, Msg: "invalid expression"}
	}
	first := errs[0]
	for _, e := range errs[1:] {
		if before(e.Location, first.Location) {
			first = e
		}
	}
	return locatedError(expr, first.Location, first.Message)
}

// before reports whether a comes earlier in the source than b.
func before(a, b common.Location) bool {
	return a.Line() < b.Line() || (a.Line() == b.Line() && a.Column() < b.Column())
}

// locatedError builds a CompileError at loc, whose column CEL counts from 0.
func locatedError(expr string, loc common.Location, msg string) *CompileError {
	e := &CompileError{Rule: expr, Msg: cleanMessage(msg)}
	if loc != nil && loc.Line() > 0 {
		e.Line = loc.Line()
		e.Column = max(loc.Column()+1, 1)
	}
	return e
}

// cleanMessage drops the noise CEL adds for an unnamed container and lowercases the
// first word ("Syntax error" becomes "syntax error") to match Go error style.
func cleanMessage(msg string) string {
	msg = strings.ReplaceAll(msg, " (in container '')", "")
	r, size := utf8.DecodeRuneInString(msg)
	if size == 0 || !unicode.IsUpper(r) {
		return msg
	}
	next, _ := utf8.DecodeRuneInString(msg[size:])
	if unicode.IsUpper(next) {
		return msg // an acronym such as "UTF-8"
	}
	return string(unicode.ToLower(r)) + msg[size:]
}
