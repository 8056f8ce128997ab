// Package pyscript writes the launcher scripts Python installers put in a
// bin directory for an entry point ("name = module:function"): pip's
// console scripts (layers/wheel) and conda's noarch: python entry points
// (layers/conda) are the same script.
package pyscript

import (
	"fmt"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Interpreter paths longer than this (with "#!" and newline) or with spaces
// get distlib's /bin/sh trampoline, as Linux truncates long shebangs.
const maxShebang = 127

// Shebang is the first line(s) of a script run by interp: "#!interp\n", or
// distlib's /bin/sh trampoline when interp is too long for the kernel or
// has a space.
func Shebang(interp string) string {
	if !strings.Contains(interp, " ") && len(interp)+3 <= maxShebang {
		return "#!" + interp + "\n"
	}
	q := interp
	if strings.Contains(q, " ") {
		q = `"` + q + `"`
	}
	return "#!/bin/sh\n'''exec' " + q + " \"$0\" \"$@\"\n' '''\n"
}

var entryPointRE = lazyregexp.New(`^([\w.]+)\s*(?::\s*([\w.]+)\s*)?(?:\[[^\]]*\]\s*)?$`)

// Launcher is the script pip (through distlib) writes for the entry point
// name = value, run by interp. conda's and micromamba's template differs
// only in the argv[0] pattern (they also strip "-script.py").
func Launcher(interp, name, value string) ([]byte, error) {
	m := entryPointRE.FindStringSubmatch(strings.TrimSpace(value))
	if m == nil {
		return nil, fmt.Errorf("invalid script entry point %s = %s", name, value)
	}
	if m[2] == "" {
		return nil, fmt.Errorf("invalid script entry point %s = %s: a callable suffix (module:function) is required", name, value)
	}
	mod, attr := m[1], m[2]
	importName, _, _ := strings.Cut(attr, ".")
	return []byte(Shebang(interp) + "# -*- coding: utf-8 -*-\n" +
		"import re\n" +
		"import sys\n" +
		"from " + mod + " import " + importName + "\n" +
		"if __name__ == '__main__':\n" +
		"    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n" +
		"    sys.exit(" + attr + "())\n"), nil
}
