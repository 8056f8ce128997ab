package pieces

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Numbers print as Python prints them after json.load.
func TestPyNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "12345678901234567890123": "12345678901234567890123",
		"0.5": "0.5", "1.0": "1.0", "1.50": "1.5", "1e3": "1000.0", "1E2": "100.0",
		"0.0001": "0.0001", "0.00001": "1e-05", "1.5e-7": "1.5e-07", "-0.0": "-0.0",
		"1e16": "1e+16", "1234567890123456.0": "1234567890123456.0", "12345678901234567.0": "1.2345678901234568e+16",
		"1e22": "1e+22", "0.1": "0.1", "3.14159": "3.14159", "1e400": "Infinity", "-1e400": "-Infinity",
		"123.456e5": "12345600.0", "2.5e-4": "0.00025",
	} {
		if got := pyNumber(in); got != want {
			t.Errorf("pyNumber(%s) = %s, want %s", in, got, want)
		}
	}
}

// The encoder agrees with Python's json module on a document with every
// kind of value, escapes and nesting, both indented and compact.
func TestPyJSONMatchesPython(t *testing.T) {
	doc := `{"b": 1, "a": [1, 2.50, {"x": []}, {}, null, true, false], "s": "tab\there \"q\" \\ / <&> \u0001 \u007f é 日本 🎉",
	  "n": {"deep": {"deeper": [1e-5, 1e16, 100]}}, "b": 2, "": ""}`
	v, err := parseJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// Python keeps the first place of a duplicate key with the last value.
	if strings.Join(v.keys, ",") != "b,a,s,n," || v.get("b").s != "2" {
		t.Errorf("keys %v b=%s", v.keys, v.get("b").s)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is not installed")
		}
		t.Skip("no python3")
	}
	for _, c := range []struct {
		got    []byte
		indent string
	}{{pyIndent(v), "4"}, {pyCompact(v), "None"}} {
		out, err := exec.Command(py, "-c", "import json,sys; sys.stdout.write(json.dumps(json.loads(sys.argv[1]), indent="+c.indent+"))", doc).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(c.got) {
			t.Errorf("indent=%s:\ngot  %s\nwant %s", c.indent, c.got, out)
		}
	}
}

// Syntax errors name the line and column; trailing data is an error.
func TestParseJSONErrors(t *testing.T) {
	for doc, want := range map[string]string{
		"{\n  \"a\": 1,\n  b\n}": "line 3 column",
		"{\"a\": 1} {}":          "extra data",
		"{\"a\": ":               "unexpected end",
		"":                       "unexpected end",
	} {
		_, err := parseJSON([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
}

// Deep-merge is dict_deep_update: objects merge, other values replace, new
// keys go last, existing keys keep their place.
func TestDeepUpdate(t *testing.T) {
	a, _ := parseJSON([]byte(`{"name": "D", "dependency": {"dockerfile": null, "requirements_file": null}, "tags": ["x"], "style": {"a": 1, "b": {"c": 1}}}`))
	b, _ := parseJSON([]byte(`{"description": "d", "style": {"b": {"d": 2}, "e": 3}, "tags": [], "dependency": {"requirements_file": "r.txt"}, "name": "N"}`))
	deepUpdate(a, b)
	want := `{"name": "N", "dependency": {"dockerfile": null, "requirements_file": "r.txt"}, "tags": [], "style": {"a": 1, "b": {"c": 1, "d": 2}, "e": 3}, "description": "d"}`
	if got := string(pyCompact(a)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
