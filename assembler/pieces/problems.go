package pieces

import "github.com/assemble-build/assemble/assembler/plan"

// Problem is one thing wrong with a pieces repository.
type Problem = plan.Problem

// ValidationError lists every problem found, so one run shows them all.
type ValidationError = plan.ValidationError

type problems struct{ plan.Problems }

func (ps *problems) add(file string, line int, format string, args ...any) {
	ps.Add(file, line, format, args...)
}

// err returns the problems as a *ValidationError sorted by file and line, or nil.
func (ps *problems) err(root, what string) error { return ps.Err(root, what) }
