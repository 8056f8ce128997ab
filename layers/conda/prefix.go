package conda

import (
	"bytes"
	"fmt"
	"path"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// maxShebangLine is the longest first line Linux reads of a script (the
// kernel's BINPRM_BUF_SIZE less one): conda rewrites longer ones.
const maxShebangLine = 127

// replaceText replaces every occurrence of placeholder with prefix, as conda
// does for a text-mode file, and shortens a shebang the new prefix made too
// long for the kernel to "#!/usr/bin/env <name>", as conda and micromamba do.
func replaceText(data []byte, placeholder, prefix string) []byte {
	out := bytes.ReplaceAll(data, []byte(placeholder), []byte(prefix))
	return fixLongShebang(out)
}

// shebangRE splits a first line into the interpreter path and the rest
// (conda's SHEBANG_REGEX: the path may hold escaped spaces).
var shebangRE = lazyregexp.New(`^#!\s*(/(?:\\ |[^ \n\r\t])*)(.*)$`)

func fixLongShebang(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("#!")) {
		return data
	}
	end := bytes.IndexByte(data, '\n')
	if end < 0 {
		end = len(data)
	}
	first := data[:end]
	if len(first) <= maxShebangLine {
		return data
	}
	m := shebangRE.FindSubmatch(first)
	if m == nil {
		return data // not a path conda could shorten either; left as it is
	}
	short := append([]byte("#!/usr/bin/env "+path.Base(string(m[1]))), m[2]...)
	return append(short, data[end:]...)
}

// placeholderTooLong is the refusal of a binary file whose placeholder is
// shorter than the prefix: the prefix cannot be written in its place.
type placeholderTooLong struct {
	pkg, file, placeholder, prefix string
}

func (e *placeholderTooLong) Error() string {
	return fmt.Sprintf("conda package %s: binary file %s holds the prefix placeholder %q (%d bytes), shorter than the prefix %q (%d bytes), so the prefix cannot be written into it; install into a shorter prefix (conda-build's placeholder is 255 bytes, older packages' %q only %d)",
		e.pkg, e.file, e.placeholder, len(e.placeholder), e.prefix, len(e.prefix), defaultPlaceholder, len(defaultPlaceholder))
}

// replaceBinary replaces the placeholder in each NUL-terminated string that
// holds it, as conda does for a binary-mode file: every occurrence in the
// string becomes prefix, and the string is padded with NULs to its old
// length, so offsets in the file do not move. A prefix longer than the
// placeholder is refused when the placeholder occurs.
func replaceBinary(data []byte, placeholder, prefix string) ([]byte, bool, error) {
	ph, pr := []byte(placeholder), []byte(prefix)
	var out []byte
	changed := false
	for {
		i := bytes.Index(data, ph)
		if i < 0 {
			break
		}
		end := bytes.IndexByte(data[i:], 0)
		if end < 0 {
			break // conda's pattern needs the string's NUL: left as it is
		}
		if len(pr) > len(ph) {
			return nil, false, &placeholderTooLong{placeholder: placeholder, prefix: prefix}
		}
		if !changed {
			out, changed = make([]byte, 0, len(data)), true
		}
		s := data[i : i+end]
		n := bytes.Count(s, ph)
		out = append(out, data[:i]...)
		out = append(out, bytes.ReplaceAll(s, ph, pr)...)
		out = append(out, make([]byte, n*(len(ph)-len(pr)))...)
		data = data[i+end:]
	}
	if !changed {
		return data, false, nil
	}
	return append(out, data...), true, nil
}
