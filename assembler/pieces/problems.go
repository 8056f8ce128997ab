package pieces

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a pieces repository.
type Problem struct {
	// File is relative to the repository root, with slashes.
	File string
	// Line is 1-based; 0 when the problem has no line.
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// ValidationError lists every problem found, so one run shows them all.
type ValidationError struct {
	Root     string
	What     string // "is not a valid Domino pieces repository"
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	what := e.What
	if what == "" {
		what = "is not a valid Domino pieces repository"
	}
	fmt.Fprintf(&b, "%s %s (%d problem", e.Root, what, n)
	if n != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

type problems struct{ list []Problem }

func (ps *problems) add(file string, line int, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems as a *ValidationError sorted by file and line, or nil.
func (ps *problems) err(root, what string) error {
	if len(ps.list) == 0 {
		return nil
	}
	out := append([]Problem(nil), ps.list...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return &ValidationError{Root: root, What: what, Problems: out}
}
