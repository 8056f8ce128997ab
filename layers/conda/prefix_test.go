package conda

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReplaceText(t *testing.T) {
	ph, prefix := "/opt/anaconda1anaconda2anaconda3", "/srv/conda/envs/notebook"
	in := "#!" + ph + "/bin/python3.11\nroot=" + ph + "\nlib=" + ph + "/lib:" + ph + "/lib64\n"
	want := "#!" + prefix + "/bin/python3.11\nroot=" + prefix + "\nlib=" + prefix + "/lib:" + prefix + "/lib64\n"
	if got := string(replaceText([]byte(in), ph, prefix)); got != want {
		t.Errorf("text replacement:\n got %q\nwant %q", got, want)
	}
}

// TestLongShebang: a shebang the prefix makes longer than the kernel reads
// becomes /usr/bin/env <name>, its arguments kept, as conda does.
func TestLongShebang(t *testing.T) {
	long := "/srv/" + strings.Repeat("d", 130)
	in := "#!PH/bin/python3.11 -E\nprint(1)\n"
	got := string(replaceText([]byte(in), "PH", long))
	if want := "#!/usr/bin/env python3.11 -E\nprint(1)\n"; got != want {
		t.Errorf("long shebang: got %q, want %q", got, want)
	}
	short := string(replaceText([]byte(in), "PH", "/srv/x"))
	if short != "#!/srv/x/bin/python3.11 -E\nprint(1)\n" {
		t.Errorf("short shebang changed: %q", short)
	}
}

// TestReplaceBinary: each NUL-terminated string holding the placeholder
// gets the prefix and NUL padding; the file keeps its length and every
// other byte.
func TestReplaceBinary(t *testing.T) {
	ph, prefix := "/opt/"+strings.Repeat("p", 40), "/srv/env"
	pad := len(ph) - len(prefix)
	in := "\x7fELF\x00" + ph + "/lib:" + ph + "/lib64\x00tail\x00" + ph + "\x00end" + ph
	want := "\x7fELF\x00" + prefix + "/lib:" + prefix + "/lib64" + strings.Repeat("\x00", 2*pad) + "\x00tail\x00" +
		prefix + strings.Repeat("\x00", pad) + "\x00end" + ph // the last has no NUL: conda leaves it
	got, changed, err := replaceBinary([]byte(in), ph, prefix)
	if err != nil || !changed {
		t.Fatalf("replaceBinary: changed=%v err=%v", changed, err)
	}
	if string(got) != want {
		t.Errorf("binary replacement:\n got %q\nwant %q", got, want)
	}
	if len(got) != len(in) {
		t.Errorf("length changed: %d -> %d", len(in), len(got))
	}
	same, changed, err := replaceBinary([]byte("no placeholder\x00"), ph, prefix)
	if err != nil || changed || string(same) != "no placeholder\x00" {
		t.Errorf("untouched file: %q %v %v", same, changed, err)
	}
}

func TestReplaceBinaryRefusesLongerPrefix(t *testing.T) {
	ph := "/opt/anaconda1anaconda2anaconda3"
	prefix := "/srv/conda/envs/a-rather-long-environment-name"
	_, _, err := replaceBinary([]byte("x\x00"+ph+"/lib\x00"), ph, prefix)
	var tl *placeholderTooLong
	if !errors.As(err, &tl) {
		t.Fatalf("want a placeholderTooLong, got %v", err)
	}
	tl.pkg, tl.file = "p-1-0.conda", "lib/libp.so"
	for _, part := range []string{"p-1-0.conda", "lib/libp.so", ph, prefix, "(32 bytes)", "(46 bytes)", "shorter prefix"} {
		if !strings.Contains(tl.Error(), part) {
			t.Errorf("error %q lacks %q", tl.Error(), part)
		}
	}
	// Without the placeholder in the file, the prefix's length is no matter.
	if _, changed, err := replaceBinary([]byte("clean\x00"), ph, prefix); err != nil || changed {
		t.Errorf("file without placeholder: %v %v", changed, err)
	}
}

func TestSplitQuoted(t *testing.T) {
	for in, want := range map[string][]string{
		`bin/x`:                          {"bin/x"},
		`/opt/ph text bin/x`:             {"/opt/ph", "text", "bin/x"},
		`"/opt/p h" binary "lib/a b.so"`: {"/opt/p h", "binary", "lib/a b.so"},
	} {
		got, err := splitQuoted(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("splitQuoted(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitQuoted(`"open`); err == nil {
		t.Error("an unclosed quote is accepted")
	}
}

func TestCheckLink(t *testing.T) {
	for _, c := range []struct {
		rel, target string
		ok          bool
	}{
		{"bin/python", "python3.11", true},
		{"lib/libz.so", "../lib/libz.so.1", true},
		{"share/a/b", "../../bin/x", true},
		{"share/a", "../../etc/passwd", false},
		{"bin/sh", "/bin/bash", false},
		{"x", "..", false},
	} {
		if err := checkLink(c.rel, c.target); (err == nil) != c.ok {
			t.Errorf("checkLink(%s -> %s) = %v, want ok=%v", c.rel, c.target, err, c.ok)
		}
	}
}

func TestRequestedSpecs(t *testing.T) {
	got := requestedSpecs([]string{"python=3.11", "conda-forge::numpy >=1.26", "hello", "pkg[version='>1']", "Upper"})
	want := map[string]string{"python": "python=3.11", "numpy": "conda-forge::numpy >=1.26", "hello": "hello", "pkg": "pkg[version='>1']", "upper": "Upper"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requested[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestHistory(t *testing.T) {
	r := func(n, v, b string) Record {
		return Record{Name: n, Version: v, Build: b, Channel: "https://conda.anaconda.org/conda-forge", Subdir: "linux-64"}
	}
	got := history(time.Unix(1700000000, 0),
		Solution{Records: []Record{r("python", "3.11.5", "h0_0")}, Requested: []string{"python=3.11"}},
		Solution{Records: []Record{r("zlib", "1.3.1", "h1_1")}, Requested: []string{"zlib", `a"b`}})
	want := "==> 2023-11-14 22:13:20 <==\n# cmd: assemble\n# conda version: 3.8.0\n" +
		"+https://conda.anaconda.org/conda-forge/linux-64::python-3.11.5-h0_0\n# update specs: [\"python=3.11\"]\n" +
		"==> 2023-11-14 22:13:20 <==\n# cmd: assemble\n# conda version: 3.8.0\n" +
		"+https://conda.anaconda.org/conda-forge/linux-64::zlib-1.3.1-h1_1\n# update specs: [\"zlib\", \"a\\\"b\"]\n"
	if string(got) != want {
		t.Errorf("history:\n%s\nwant:\n%s", got, want)
	}
	if !bytes.HasSuffix(got, []byte("\n")) {
		t.Error("history does not end in a newline")
	}
}
