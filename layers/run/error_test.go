package run

import (
	"strings"
	"testing"
)

// A failed command's error quotes the command on one line (a script's
// first), its output below.
func TestExitErrorQuotesCommandOnOneLine(t *testing.T) {
	e := &ExitError{Command: []string{"/bin/sh", "-c", "set -e\napt-get update\nmake \\\n  all\n"}, Code: 2, Output: "E: no network\n"}
	first, rest, _ := strings.Cut(e.Error(), "\n")
	if first != "RUN set -e ...: exit status 2; last output:" || rest != "E: no network\n" {
		t.Errorf("error = %q", e.Error())
	}
}
