package rules

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// fastBool is a boolean expression turned into Go closures. Most rule
// conditions only compare the value, the device or the metric with
// literals (`value > 42 || value < -10`, `device != "spare"`); for those the
// expr VM costs more than the comparisons themselves: it loads each field
// of Env through reflection and boxes the float. fastFor returns nil for
// anything else, which keeps running on the VM.
type fastBool func(v float64, device, metric string) bool

// fastFor compiles p's checked tree, or returns nil.
func fastFor(p *vm.Program) fastBool {
	if p == nil {
		return nil
	}
	return fastNode(p.Node())
}

func fastNode(n ast.Node) fastBool {
	switch n := n.(type) {
	case *ast.BoolNode:
		b := n.Value
		return func(float64, string, string) bool { return b }
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil
		}
		x := fastNode(n.Node)
		if x == nil {
			return nil
		}
		return func(v float64, d, m string) bool { return !x(v, d, m) }
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			l, r := fastNode(n.Left), fastNode(n.Right)
			if l == nil || r == nil {
				return nil
			}
			if n.Operator == "&&" || n.Operator == "and" {
				return func(v float64, d, m string) bool { return l(v, d, m) && r(v, d, m) }
			}
			return func(v float64, d, m string) bool { return l(v, d, m) || r(v, d, m) }
		}
		return fastCompare(n)
	}
	return nil
}

// fastCompare handles value <op> number, number <op> value, and device or
// metric ==/!= string, either way round.
func fastCompare(n *ast.BinaryNode) fastBool {
	op, ok := opCodes[n.Operator]
	if !ok {
		return nil
	}
	if isIdent(n.Left, "value") {
		if c, ok := number(n.Right); ok {
			return func(v float64, _, _ string) bool { return compare(op, v, c) }
		}
	}
	if isIdent(n.Right, "value") {
		if c, ok := number(n.Left); ok {
			return func(v float64, _, _ string) bool { return compare(op, c, v) }
		}
	}
	if op != opEQ && op != opNE {
		return nil
	}
	field, lit := n.Left, n.Right
	if _, ok := field.(*ast.StringNode); ok {
		field, lit = lit, field
	}
	s, ok := lit.(*ast.StringNode)
	if !ok {
		return nil
	}
	want, eq := s.Value, op == opEQ
	switch {
	case isIdent(field, "device"):
		return func(_ float64, d, _ string) bool { return (d == want) == eq }
	case isIdent(field, "metric"):
		return func(_ float64, _, m string) bool { return (m == want) == eq }
	}
	return nil
}

func isIdent(n ast.Node, name string) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == name
}

// number is the value of a numeric literal, folded sign included.
func number(n ast.Node) (float64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return float64(n.Value), true
	case *ast.FloatNode:
		return n.Value, true
	case *ast.UnaryNode:
		if n.Operator == "-" || n.Operator == "+" {
			if f, ok := number(n.Node); ok {
				if n.Operator == "-" {
					f = -f
				}
				return f, true
			}
		}
	}
	return 0, false
}
