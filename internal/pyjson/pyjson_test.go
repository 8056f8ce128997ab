package pyjson

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// Numbers print as Python prints them after json.load.
func TestPythonNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "12345678901234567890123": "12345678901234567890123",
		"0.5": "0.5", "1.0": "1.0", "1.50": "1.5", "1e3": "1000.0", "1E2": "100.0",
		"0.0001": "0.0001", "0.00001": "1e-05", "1.5e-7": "1.5e-07", "-0.0": "-0.0",
		"1e16": "1e+16", "1234567890123456.0": "1234567890123456.0", "12345678901234567.0": "1.2345678901234568e+16",
		"1e22": "1e+22", "0.1": "0.1", "3.14159": "3.14159", "1e400": "Infinity", "-1e400": "-Infinity",
		"123.456e5": "12345600.0", "2.5e-4": "0.00025",
	} {
		if got := pythonNumber(in); got != want {
			t.Errorf("pythonNumber(%s) = %s, want %s", in, got, want)
		}
	}
}

// tricky holds every kind of value, the characters encoding/json escapes
// differently from Python (& < >), control characters, DEL, non-ASCII in
// and above the BMP, floats Python prints in exponent form, empty
// containers, nesting, a duplicate key and keys whose sorted order differs
// from their insertion order.
const tricky = `{"b": 1, "a": [1, 2.50, {"x": []}, {}, null, true, false, -0.0, 1e400],
  "s": "tab\there \"q\" \\ / <&> \u0001 \u001f \u007f \u0080 é 日本 🎉 \u2028",
  "url": "https://example.com/a?x=1&y=<2>#sha256=ab",
  "n": {"deep": {"deeper": [1e-5, 1e16, 100, 0.1, 12345678901234567890]}, "é": {}, "Z": []},
  "b": 2, "": "", "ü": "ü", "A": 0.0001}`

func python(t *testing.T) string {
	t.Helper()
	return testtool.RequireTool(t, "python3")
}

// The encoder agrees with Python's json.dumps for every combination of the
// arguments the callers use.
func TestMarshalMatchesPython(t *testing.T) {
	py := python(t)
	v, err := Parse([]byte(tricky))
	if err != nil {
		t.Fatal(err)
	}
	// Python keeps the first place of a duplicate key with the last value.
	if strings.Join(v.Keys(), ",") != "b,a,s,url,n,,ü,A" || v.Get("b").Text() != "2" {
		t.Errorf("keys %v b=%s", v.Keys(), v.Get("b").Text())
	}
	for _, indent := range []int{-1, 0, 4} {
		for _, sortKeys := range []bool{false, true} {
			for _, ascii := range []bool{true, false} {
				var opts []Option
				pyIndent := "None"
				if indent >= 0 {
					opts = append(opts, Indent(indent))
					pyIndent = string(rune('0' + indent))
				}
				if sortKeys {
					opts = append(opts, SortKeys())
				}
				opts = append(opts, EnsureASCII(ascii))
				args := "indent=" + pyIndent + ", sort_keys=" + pyBool(sortKeys) + ", ensure_ascii=" + pyBool(ascii)
				script := "import json,sys; sys.stdout.buffer.write(json.dumps(json.loads(sys.argv[1]), " + args + ").encode('utf-8'))"
				want, err := exec.Command(py, "-c", script, tricky).Output()
				if err != nil {
					t.Fatalf("%s: %v", args, err)
				}
				if got := Marshal(v, opts...); string(got) != string(want) {
					t.Errorf("%s:\ngot  %s\nwant %s", args, got, want)
				}
			}
		}
	}
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// Values built in Go (not parsed) print as the same dict would in Python.
func TestMarshalBuilt(t *testing.T) {
	py := python(t)
	du := Object()
	du.Set("url", String("https://h/p?a=1&b=2"))
	ai := Object()
	ai.Set("hashes", Object())
	ai.Get("hashes").Set("sha256", String("ab"))
	ai.Set("hash", String("sha256=ab"))
	du.Set("archive_info", ai)
	du.Set("list", Strings([]string{"x", "<y>"}))
	du.Set("flag", Bool(true))
	du.Set("none", Null())
	du.Set("n", Number("1.50"))
	want, err := exec.Command(py, "-c", `import json,sys; sys.stdout.write(json.dumps({"url": "https://h/p?a=1&b=2", "archive_info": {"hashes": {"sha256": "ab"}, "hash": "sha256=ab"}, "list": ["x", "<y>"], "flag": True, "none": None, "n": 1.5}, sort_keys=True))`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := Marshal(du, SortKeys()); string(got) != string(want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Syntax errors name the line and column; trailing data is an error.
func TestParseErrors(t *testing.T) {
	for doc, want := range map[string]string{
		"{\n  \"a\": 1,\n  b\n}": "line 3 column",
		"{\"a\": 1} {}":          "extra data",
		"{\"a\": ":               "unexpected end",
		"":                       "unexpected end",
		strings.Repeat("[", 1100) + strings.Repeat("]", 1100): "nested too deeply",
	} {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: %v, want %q", doc, err, want)
		}
	}
}

// Truthiness and equality follow Python on decoded values.
func TestTruthyEqual(t *testing.T) {
	for doc, want := range map[string]bool{
		`0`: false, `0.0`: false, `1`: true, `""`: false, `"a"`: true, `[]`: false, `[0]`: true,
		`{}`: false, `{"a": null}`: true, `null`: false, `false`: false, `true`: true,
	} {
		v, err := Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if v.Truthy() != want {
			t.Errorf("bool(%s) = %v", doc, !want)
		}
	}
	a, _ := Parse([]byte(`{"x": [1, 2.0, {"y": null}]}`))
	b, _ := Parse([]byte(`{"x": [1.0, 2, {"y": null}]}`))
	if !a.Equal(b) || a.Equal(Object()) || !(*Value)(nil).Equal(Null()) {
		t.Error("Equal differs from Python's ==")
	}
	c := a.Clone()
	c.Get("x").arr[2].Set("y", Number("3"))
	if !a.Get("x").Items()[2].Get("y").Equal(nil) {
		t.Error("Clone shares members with the original")
	}
}
