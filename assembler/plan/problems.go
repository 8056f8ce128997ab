package plan

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a repository a convention read.
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
	Root string
	// What follows the root in the message ("is not a valid Domino pieces repository").
	What     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	what := e.What
	if what == "" {
		what = "is not valid"
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

// Problems collects problems as a convention reads a repository.
type Problems struct {
	List []Problem
}

// Add records a problem.
func (ps *Problems) Add(file string, line int, format string, args ...any) {
	ps.List = append(ps.List, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Sorted returns the problems by file, then line, keeping the order of
// problems on one line.
func (ps *Problems) Sorted() []Problem {
	out := append([]Problem(nil), ps.List...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// Err returns the problems as a sorted *ValidationError, or nil when there are none.
func (ps *Problems) Err(root, what string) error {
	if len(ps.List) == 0 {
		return nil
	}
	return &ValidationError{Root: root, What: what, Problems: ps.Sorted()}
}
