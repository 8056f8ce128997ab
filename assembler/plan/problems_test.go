package plan

import (
	"errors"
	"testing"
)

func TestProblemsSortAndReport(t *testing.T) {
	var ps Problems
	if ps.Err("repo", "is not valid") != nil {
		t.Fatal("no problems gave an error")
	}
	ps.Add("b.yaml", 3, "second %s", "in b")
	ps.Add("a.yaml", 9, "late in a")
	ps.Add("a.yaml", 2, "early in a")
	ps.Add("a.yaml", 2, "also on line 2")
	err := ps.Err("/r", "is not a valid thing")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%T, want *ValidationError", err)
	}
	want := "/r is not a valid thing (4 problems):\n  a.yaml:2: early in a\n  a.yaml:2: also on line 2\n  a.yaml:9: late in a\n  b.yaml:3: second in b"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	one := (&ValidationError{Root: "/r", Problems: []Problem{{File: "x", Msg: "m"}}}).Error()
	if one != "/r is not valid (1 problem):\n  x: m" {
		t.Errorf("single problem: %q", one)
	}
}
