package pktfilter

import (
	"fmt"
	"strings"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokAnd
	tokOr
	tokNot
	tokLParen
	tokRParen
)

// token is one lexical unit; pos is its 1-based byte column in the
// expression, the number error messages quote.
type token struct {
	kind tokKind
	text string
	pos  int
}

// describe renders a token for "got ..." in error messages.
func (t token) describe() string {
	if t.kind == tokEOF {
		return "end of expression"
	}
	return fmt.Sprintf("%q", t.text)
}

// isWordByte reports which bytes make up words: everything but blanks and
// the operator characters, so that addresses (fe80::1/64), port ranges
// (80-90) and partial networks (10.1) lex as one word.
func isWordByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '(', ')', '!', '&', '|':
		return false
	}
	return true
}

// lex splits expr into tokens, ending with a tokEOF.
func lex(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i + 1})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i + 1})
			i++
		case c == '!':
			toks = append(toks, token{tokNot, "!", i + 1})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(expr) || expr[i+1] != c {
				return nil, &SyntaxError{Pos: i + 1, Msg: fmt.Sprintf("unexpected %q (did you mean %q?)", string(c), strings.Repeat(string(c), 2))}
			}
			kind := tokAnd
			if c == '|' {
				kind = tokOr
			}
			toks = append(toks, token{kind, expr[i : i+2], i + 1})
			i += 2
		default:
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			w := expr[i:j]
			kind := tokWord
			// Like libpcap, the word operators are lower case only.
			switch w {
			case "and":
				kind = tokAnd
			case "or":
				kind = tokOr
			case "not":
				kind = tokNot
			}
			toks = append(toks, token{kind, w, i + 1})
			i = j
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(expr) + 1}), nil
}

// SyntaxError is the error Compile returns for an expression it cannot
// accept. Pos is the 1-based byte column of the token at fault (one past
// the end for a missing token).
type SyntaxError struct {
	Pos int
	Msg string
}

// Error formats as `pktfilter: at 12: expected a port number, got "http"`.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("pktfilter: at %d: %s", e.Pos, e.Msg)
}
