package main

import (
	"fmt"
	"strings"

	"github.com/assemble-build/assemble/internal/quote"
	"github.com/assemble-build/assemble/internal/redact"
)

// writeError words a failed write to an output. Sinks name themselves in
// their errors ("oci:DIR: ...", a registry's "HOST/NAME:TAG: ..."): the
// output is then not named a second time.
func writeError(out fmt.Stringer, err error) error {
	msg, spec := err.Error(), out.String()
	_, ref, _ := strings.Cut(spec, "://")
	if strings.HasPrefix(msg, spec+":") || ref != "" && strings.HasPrefix(msg, ref+":") {
		return fmt.Errorf("writing %w", err)
	}
	return fmt.Errorf("writing %s: %w", spec, err)
}

// errorMessage is how the command line shows an error: without credentials
// or upload sessions (a registry's upload URL carries its state), and with
// the control characters of what it echoes (user input, file contents)
// escaped, so that they cannot act on the terminal.
func errorMessage(err error) string {
	return quote.Printable(redact.Message(err.Error()), true)
}
