package wheel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestParseRequirementsFile(t *testing.T) {
	h1 := strings.Repeat("a", 64)
	h2 := strings.Repeat("B", 64)
	dir := writeFiles(t, map[string]string{
		"requirements.txt": "# a comment\n" +
			"--index-url https://user:secret@pypi.example/simple\n" +
			"--extra-index-url=https://extra.example/simple/\n" +
			"-f wheels   # relative to this file\n" +
			"--find-links file:///abs/wheelhouse\n" +
			"--pre\n" +
			"requests[socks,security]>=2.0 ; python_version >= \"3.8\"  # trailing comment\n" +
			"numpy==1.26.4 \\\n" +
			"    --hash=sha256:" + h1 + " \\\n" +
			"    --hash sha256:" + h2 + "\n" +
			"Django ~= 4.2\n" +
			"-r sub/more.txt\n" +
			"-c constraints.txt\n" +
			"pip @ https://files.example/pip-23.0.1-py3-none-any.whl\n" +
			"./local/foo-1.0-py3-none-any.whl\n" +
			"${PKG_NAME}==1.0\n",
		"sub/more.txt":    "attrs\n--no-index\n",
		"constraints.txt": "urllib3<2\n-r sub/cons2.txt\n",
		"sub/cons2.txt":   "idna==3.4\n",
		"wheels/.keep":    "",
		"local/.keep":     "",
	})
	// Hashes make it hash-checking mode; drop the unhashed lines for this check.
	_, err := ParseRequirements(filepath.Join(dir, "requirements.txt"), WithEnv(func(k string) (string, bool) {
		if k == "PKG_NAME" {
			return "six", true
		}
		return "", false
	}))
	if err == nil || !strings.Contains(err.Error(), "requirements.txt:7: requests has no --hash") {
		t.Fatalf("expected a hash-mode error naming requirements.txt:7, got %v", err)
	}
	// Same file without the hashes.
	b, _ := os.ReadFile(filepath.Join(dir, "requirements.txt"))
	noHash := strings.NewReplacer(" \\\n    --hash=sha256:"+h1, "", " \\\n    --hash sha256:"+h2, "").Replace(string(b))
	os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte(noHash), 0o644)
	rs, err := ParseRequirements(filepath.Join(dir, "requirements.txt"), WithEnv(func(k string) (string, bool) { return "six", k == "PKG_NAME" }))
	if err != nil {
		t.Fatal(err)
	}
	if rs.IndexURL != "https://user:secret@pypi.example/simple" || len(rs.ExtraIndexURLs) != 1 || !rs.NoIndex || !rs.Pre || rs.RequireHashes {
		t.Errorf("options: %+v", rs)
	}
	if len(rs.FindLinks) != 2 || rs.FindLinks[0] != filepath.Join(dir, "wheels") || rs.FindLinks[1] != "/abs/wheelhouse" {
		t.Errorf("find-links: %v", rs.FindLinks)
	}
	var got []string
	for _, r := range rs.Requirements {
		got = append(got, r.String()+" <"+r.Source+">")
	}
	want := []string{
		`requests[security,socks]>=2.0; python_version >= "3.8" <` + filepath.Join(dir, "requirements.txt") + `:7>`,
		`numpy==1.26.4 <` + filepath.Join(dir, "requirements.txt") + `:8>`,
		`Django~=4.2 <` + filepath.Join(dir, "requirements.txt") + `:9>`,
		`attrs <` + filepath.Join(dir, "sub/more.txt") + `:1>`,
		`pip @ https://files.example/pip-23.0.1-py3-none-any.whl <` + filepath.Join(dir, "requirements.txt") + `:12>`,
		`foo @ file://` + filepath.Join(dir, "local/foo-1.0-py3-none-any.whl") + ` <` + filepath.Join(dir, "requirements.txt") + `:13>`,
		`six==1.0 <` + filepath.Join(dir, "requirements.txt") + `:14>`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requirements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(rs.Constraints) != 2 || rs.Constraints[0].String() != "urllib3<2" || rs.Constraints[1].String() != "idna==3.4" {
		t.Errorf("constraints: %v", rs.Constraints)
	}
}

func TestParseRequirementsHashMode(t *testing.T) {
	h := strings.Repeat("0", 64)
	rs := reqsOf(t, "foo==1.0 --hash=sha256:"+h+"\nbar==2.0 \\\n  --hash=sha256:"+strings.Repeat("1", 64)+"\n")
	if !rs.RequireHashes || len(rs.Requirements) != 2 || rs.Requirements[0].Hashes[0] != "sha256:"+h {
		t.Errorf("got %+v", rs)
	}
	rs = reqsOf(t, "--require-hashes\n")
	if !rs.RequireHashes {
		t.Error("--require-hashes not recorded")
	}
}

func TestParseRequirementsErrors(t *testing.T) {
	h := strings.Repeat("0", 64)
	cases := []struct{ text, want string }{
		{"foo\n-e git+https://github.com/x/y.git#egg=y\n", "requirements.txt:2: editable install -e git+https://github.com/x/y.git#egg=y is not supported"},
		{"--editable ./src\n", "requirements.txt:1: editable install -e ./src is not supported"},
		{"git+https://github.com/x/y.git@v1#egg=y\n", "requirements.txt:1: VCS requirement"},
		{"y @ git+https://github.com/x/y.git\n", "requirements.txt:1: VCS requirement"},
		{"\n\n./src/mypkg\n", "requirements.txt:3: local source path \"./src/mypkg\" is not supported"},
		{"./dist/mypkg-1.0.tar.gz\n", "requirements.txt:1: local source archive"},
		{"https://example.com/foo-1.0.tar.gz\n", "requirements.txt:1: source archive URL"},
		{"foo==1.0 --hash=sha256:" + h + "\nbar==1.0\n", "requirements.txt:2: bar has no --hash"},
		{"foo>=1.0 --hash=sha256:" + h + "\n", "requirements.txt:1: foo is not pinned with =="},
		{"foo==1.0 --hash=md5:abcd\n", "requirements.txt:1: --hash \"md5:abcd\": only sha256"},
		{"foo==1.0 --hash=sha256:xyz\n", "not a sha256 hex digest"},
		{"--hash=sha256:" + h + "\n", "requirements.txt:1: --hash must follow a requirement"},
		{"foo --index-url https://x\n", "requirements.txt:1: option --index-url cannot follow a requirement"},
		{"--bogus\n", "requirements.txt:1: unknown option --bogus"},
		{"--index-url\n", "requirements.txt:1: option --index-url needs a value"},
		{"foo >= \n", "requirements.txt:1: invalid requirement"},
		{"foo; python_version <\n", "requirements.txt:1: invalid requirement"},
		{"-r missing.txt\n", "requirements.txt:1: reading requirements file"},
		{"foo==${UNSET_VAR_FOR_TEST}\n", "requirements.txt:1: environment variable ${UNSET_VAR_FOR_TEST} is not set"},
		{"--no-binary :all:\n", "requirements.txt:1: --no-binary :all: asks pip to build from source"},
		{"foo --global-option=--x\n", "requirements.txt:1: option --global-option builds from source"},
		{"a \\\nb c\n", "requirements.txt:1: invalid requirement"},
	}
	for _, c := range cases {
		_, err := ParseRequirementsReader("requirements.txt", strings.NewReader(c.text), WithBaseDir(t.TempDir()), WithEnv(func(string) (string, bool) { return "", false }))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want %q", c.text, err, c.want)
		}
	}
}

func TestParseRequirementsIncludeErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.txt":     "-r b.txt\n",
		"b.txt":     "ok\n\nbad[\n",
		"loop.txt":  "-r loop2.txt\n",
		"loop2.txt": "-r loop.txt\n",
		"cons.txt":  "-c c2.txt\n",
		"c2.txt":    "foo[bar]==1\n",
	})
	_, err := ParseRequirements(filepath.Join(dir, "a.txt"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "b.txt")+":3: ") {
		t.Errorf("error in an included file must name it and its line: %v", err)
	}
	_, err = ParseRequirements(filepath.Join(dir, "loop.txt"))
	if err == nil || !strings.Contains(err.Error(), "includes itself") {
		t.Errorf("include loop: %v", err)
	}
	_, err = ParseRequirements(filepath.Join(dir, "cons.txt"))
	if err == nil || !strings.Contains(err.Error(), "c2.txt:1: constraint") {
		t.Errorf("constraint with extras: %v", err)
	}
}

func TestJoinLinesAsPip(t *testing.T) {
	lines, err := joinLines(strings.NewReader("a \\\n  b\n# comment \\\nc\nd \\"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, strings.TrimSpace(l.text))
	}
	// A comment line ending in a backslash does not continue.
	if strings.Join(got, "|") != "a   b|# comment \\|c|d" || lines[0].n != 1 || lines[2].n != 4 {
		t.Errorf("got %q %+v", got, lines)
	}
}
