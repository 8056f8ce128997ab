package devfile_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/devfile"
)

// TestSchemaValidation: values of the wrong type or outside an enum, which
// the structural checks let through, are rejected by the devfile spec's
// JSON schema, each at its file and line, for every vendored schemaVersion.
func TestSchemaValidation(t *testing.T) {
	const image = "      image: ubi9\n"
	cases := []struct {
		name, add string
		line      int
		msg       string
	}{
		{"targetPort a string", "      endpoints:\n        - name: http\n          targetPort: \"x\"\n", 14, "components[0].container.endpoints[0].targetPort: got string, want integer"},
		{"mountSources a string", "      mountSources: \"yes\"\n", 12, "components[0].container.mountSources: got string, want boolean"},
		{"args a string", "      args: tail\n", 12, "components[0].container.args: got string, want array"},
		{"exposure not in the enum", "      endpoints:\n        - name: http\n          targetPort: 8080\n          exposure: bogus\n", 15, "components[0].container.endpoints[0].exposure: value must be one of"},
		{"env value a number", "      env:\n        - name: PORT\n          value: 8080\n", 14, "components[0].container.env[0].value: got number, want string"},
		{"unknown container field", "      imagePullPolicy: Always\n", 12, "additional properties 'imagePullPolicy' not allowed"},
	}
	for _, sv := range []string{"2.0.0", "2.1.0", "2.2.0", "2.2.1", "2.2.2", "2.3.0"} {
		for _, c := range cases {
			t.Run(sv+"/"+c.name, func(t *testing.T) {
				dir := copyRegistry(t)
				src := strings.Replace(minimalDevfile, image, image+c.add, 1)
				write(javaDevfile, strings.Replace(src, "schemaVersion: 2.2.0", "schemaVersion: "+sv, 1))(t, dir)
				_, err := devfile.Index(dir)
				checkProblems(t, err, []want{{javaDevfile, c.line, c.msg}})
				if !strings.Contains(err.Error(), "(devfile schema "+sv+")") {
					t.Errorf("the message does not name schema %s: %v", sv, err)
				}
			})
		}
	}
}

// TestSchemaValidationSampleDevfile: cached sample devfiles are checked
// against the schema too, and every problem of a file is reported.
func TestSchemaValidationSampleDevfile(t *testing.T) {
	dir := copyRegistry(t)
	bad := strings.Replace(minimalDevfile, "      image: ubi9\n", "      image: ubi9\n      mountSources: \"yes\"\n      args: tail\n", 1)
	write("samples/nodejs-basic/1.0.0/devfile.yaml", bad)(t, dir)
	write("samples/nodejs-basic/1.0.1/devfile.yaml", minimalDevfile)(t, dir)
	write("samples/code-with-quarkus/devfile.yaml", minimalDevfile)(t, dir)
	_, err := devfile.Index(dir)
	checkProblems(t, err, []want{
		{"samples/nodejs-basic/1.0.0/devfile.yaml", 12, "mountSources: got string, want boolean"},
		{"samples/nodejs-basic/1.0.0/devfile.yaml", 13, "args: got string, want array"},
	})
}

// TestSchemaValidationYAML11: the devfile library reads devfiles as YAML
// 1.1, where a plain yes is a boolean; assemble accepts what it accepts.
func TestSchemaValidationYAML11(t *testing.T) {
	dir := copyRegistry(t)
	write(javaDevfile, strings.Replace(minimalDevfile, "      image: ubi9\n", "      image: ubi9\n      mountSources: yes\n", 1))(t, dir)
	if _, err := devfile.Index(dir); err != nil {
		t.Fatal(err)
	}
}

// TestSchemaVersionPatchFallback: a patch version without a schema of its
// own is checked against the newest schema of its minor version.
func TestSchemaVersionPatchFallback(t *testing.T) {
	dir := copyRegistry(t)
	src := strings.Replace(minimalDevfile, "schemaVersion: 2.2.0", "schemaVersion: 2.2.9", 1)
	write(javaDevfile, strings.Replace(src, "      image: ubi9\n", "      image: ubi9\n      args: tail\n", 1))(t, dir)
	_, err := devfile.Index(dir)
	checkProblems(t, err, []want{{javaDevfile, 12, "args: got string, want array (devfile schema 2.2.2)"}})
}

// TestMissingLastModifiedWarns: without last_modified.json the index is
// still made, with a warning that says what is lost and how the registry's
// build makes the file.
func TestMissingLastModifiedWarns(t *testing.T) {
	dir := copyRegistry(t)
	remove("last_modified.json")(t, dir)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := devfile.Index(dir, devfile.WithLogger(log)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"level=WARN", "no last_modified.json", "every lastModified in the index will be empty", "generate_last_mod_file.sh", "git log -1"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
}
