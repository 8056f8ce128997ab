package devfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/devfile"
)

// minimalDevfile is a valid stack devfile; the line numbers below refer to it.
//
//	1 schemaVersion    8 components       13 - id: build
//	2 metadata:        9 - name: tools    14 exec:
//	3 name            10 container:       15 component
//	4 version         11 image            16 commandLine
//	5 displayName     12 commands:        17 group:
//	6 language                            18 kind: build
//	7 projectType
const minimalDevfile = `schemaVersion: 2.2.0
metadata:
  name: java-maven
  version: 1.1.0
  displayName: Maven Java
  language: Java
  projectType: Maven
components:
  - name: tools
    container:
      image: ubi9
commands:
  - id: build
    exec:
      component: tools
      commandLine: mvn package
      group:
        kind: build
`

const javaDevfile = "stacks/java-maven/devfile.yaml"

type want struct {
	file string
	line int
	msg  string
}

type edit func(t *testing.T, dir string)

func write(rel, content string) edit {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func remove(rel string) edit {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
}

func replace(rel, old, new string) edit {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s does not contain %q", rel, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(target, rel string) edit {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
}

// devfileWith is minimalDevfile with old replaced by new.
func devfileWith(old, new string) edit {
	if !strings.Contains(minimalDevfile, old) {
		panic("minimalDevfile does not contain " + old)
	}
	return write(javaDevfile, strings.Replace(minimalDevfile, old, new, 1))
}

// oneSample replaces extraDevfileEntries.yaml with one sample; its entry is
// on line 3.
func oneSample(body string) edit {
	return write("extraDevfileEntries.yaml", "schemaVersion: 1.0.0\nsamples:\n  - name: s\n"+body)
}

const sampleGit = "    git:\n      remotes:\n        origin: https://example.com/s.git\n"

func checkProblems(t *testing.T, err error, wants []want) []devfile.Problem {
	t.Helper()
	var ve *devfile.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a *devfile.ValidationError", err)
	}
	for _, w := range wants {
		found := false
		for _, p := range ve.Problems {
			if p.File == w.file && p.Line == w.line && strings.Contains(p.Msg, w.msg) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no problem %s:%d %q in\n%v", w.file, w.line, w.msg, err)
		}
	}
	return ve.Problems
}

// TestValidation makes one registry problem per case, each a rule of the
// index generator (or of the devfile schema, or of pushing), and checks it
// is reported with its file and line.
func TestValidation(t *testing.T) {
	goStack := "stacks/go/stack.yaml"
	cases := []struct {
		name  string
		edits []edit
		wants []want
	}{
		// checkForRequiredMetadata: name, displayName, language, projectType.
		{"required metadata", []edit{write(javaDevfile, "schemaVersion: 2.2.0\nmetadata:\n  version: 1.1.0\n")}, []want{
			{javaDevfile, 2, "metadata.name is not set"},
			{javaDevfile, 2, "metadata.displayName is not set"},
			{javaDevfile, 2, "metadata.language is not set"},
			{javaDevfile, 2, "metadata.projectType is not set"},
		}},
		// validateIndexComponent: every version has a version.
		{"metadata.version missing", []edit{devfileWith("  version: 1.1.0\n", "")}, []want{{javaDevfile, 2, "metadata.version is not set"}}},
		// The devfile schema's metadata.version pattern.
		{"metadata.version not semver", []edit{devfileWith("version: 1.1.0", "version: \"1.1\"")}, []want{{javaDevfile, 4, "not a semantic version"}}},
		// Pushing: the version is the tag.
		{"metadata.version not a tag", []edit{devfileWith("version: 1.1.0", "version: 1.1.0+build.5")}, []want{{javaDevfile, 4, "cannot be an OCI tag"}}},
		{"schemaVersion missing", []edit{devfileWith("schemaVersion: 2.2.0\n", "")}, []want{{javaDevfile, 1, "schemaVersion is not set"}}},
		{"schemaVersion unsupported", []edit{devfileWith("schemaVersion: 2.2.0", "schemaVersion: 3.0.0")}, []want{{javaDevfile, 1, "not supported"}}},
		{"YAML syntax", []edit{devfileWith("  displayName: Maven Java\n", "  displayName: Maven: Java\n")}, []want{{javaDevfile, 5, "mapping values are not allowed"}}},
		{"duplicate key", []edit{devfileWith("  language: Java\n", "  language: Java\n  language: Go\n")}, []want{{javaDevfile, 7, "already defined at line 6"}}},
		{"unknown top-level field", []edit{devfileWith("components:", "component: x\ncomponents:")}, []want{{javaDevfile, 8, `unknown top-level field "component"`}}},
		{"component without a type", []edit{devfileWith("    container:\n      image: ubi9\n", "    attributes: {}\n")}, []want{{javaDevfile, 9, `component "tools" has no type`}}},
		{"component with two types", []edit{devfileWith("      image: ubi9\n", "      image: ubi9\n    volume: {}\n")}, []want{{javaDevfile, 9, "several types (container, volume)"}}},
		{"container without image", []edit{devfileWith("      image: ubi9\n", "      memoryLimit: 1Gi\n")}, []want{{javaDevfile, 10, `container component "tools" has no image`}}},
		{"duplicate component name", []edit{devfileWith("commands:", "  - name: tools\n    volume: {}\ncommands:")}, []want{{javaDevfile, 12, `component name "tools" is already used at line 9`}}},
		{"component name pattern", []edit{devfileWith("- name: tools", "- name: Tools")}, []want{{javaDevfile, 9, "must be lower-case"}}},
		{"command refers to a missing component", []edit{devfileWith("component: tools", "component: tool")}, []want{{javaDevfile, 15, `refers to component "tool", which is not defined`}}},
		{"exec without commandLine", []edit{devfileWith("      commandLine: mvn package\n", "")}, []want{{javaDevfile, 14, `exec command "build" has no commandLine`}}},
		{"composite refers to a missing command", []edit{write(javaDevfile, minimalDevfile+"  - id: all\n    composite:\n      commands: [build, test]\n")}, []want{{javaDevfile, 21, `refers to command "test", which is not defined`}}},
		{"group kind", []edit{devfileWith("kind: build", "kind: compile")}, []want{{javaDevfile, 18, `group kind "compile"`}}},
		// The devfile library: at most one default command per group kind.
		{"two default commands", []edit{write(javaDevfile, strings.Replace(minimalDevfile, "kind: build\n", "kind: build\n        isDefault: true\n", 1)+
			"  - id: build2\n    exec:\n      component: tools\n      commandLine: make\n      group:\n        kind: build\n        isDefault: true\n")},
			[]want{{javaDevfile, 26, "command group build has several default commands (build, build2)"}}},
		{"event refers to a missing command", []edit{write(javaDevfile, minimalDevfile+"events:\n  postStart: [init]\n")}, []want{{javaDevfile, 20, `events.postStart refers to command "init"`}}},
		{"starter project with two remotes", []edit{write(javaDevfile, minimalDevfile+"starterProjects:\n  - name: sp\n    git:\n      remotes:\n        a: https://a\n        b: https://b\n")},
			[]want{{javaDevfile, 21, "several git remotes: set checkoutFrom.remote"}}},
		{"tags not a list", []edit{devfileWith("  language: Java\n", "  language: Java\n  tags: Java\n")}, []want{{javaDevfile, 7, "metadata.tags must be a list"}, {javaDevfile, 7, "cannot unmarshal"}}},

		// parseStackDevfile: both devfile names, or none.
		{"devfile.yaml and .devfile.yaml", []edit{write("stacks/nodejs/devfile.yaml", minimalDevfile)}, []want{{"stacks/nodejs", 0, "both devfile.yaml and .devfile.yaml exist"}}},
		{"no devfile", []edit{remove("stacks/go/1.2.0/devfile.yaml")}, []want{{"stacks/go/1.2.0", 0, "no devfile.yaml"}}},
		// validateStackInfo, all errors at once.
		{"stack.yaml name, displayName, icon", []edit{write(goStack, "description: x\nversions:\n  - version: 2.1.0\n    default: true\n")}, []want{
			{goStack, 0, "name is not set in stack.yaml"},
			{goStack, 0, "displayName is not set in stack.yaml"},
			{goStack, 0, "icon is not set in stack.yaml"},
		}},
		{"stack.yaml without versions", []edit{write(goStack, "name: go\ndisplayName: Go\nicon: https://x/i.svg\nversions: []\n")}, []want{{goStack, 4, "versions list is not set"}}},
		{"stack.yaml with two defaults", []edit{replace(goStack, "  - version: 1.2.0\n", "  - version: 1.2.0\n    default: true\n")}, []want{{goStack, 8, "multiple default versions (the first is at line 6)"}}},
		{"stack.yaml without a default", []edit{replace(goStack, "    default: true\n", "")}, []want{{goStack, 5, "does not contain a default version"}}},
		{"stack.yaml version without a directory", []edit{replace(goStack, "  - version: 1.10.0\n", "  - version: 1.10.0\n  - version: 4.0.0\n")}, []want{{goStack, 10, "cannot find resource folder for version 4.0.0"}}},
		{"stack.yaml version not x.y.z", []edit{replace(goStack, "  - version: 1.10.0\n", "  - version: \"1.10\"\n")}, []want{{goStack, 9, `version "1.10" is not MAJOR.MINOR.PATCH`}}},
		{"stack.yaml version twice", []edit{replace(goStack, "  - version: 1.10.0\n", "  - version: 1.10.0\n  - version: 1.2.0\n")}, []want{{goStack, 10, "version 1.2.0 is listed twice (first at line 6)"}}},
		{"metadata.version differs from its directory", []edit{replace("stacks/go/1.2.0/devfile.yaml", "version: 1.2.0", "version: 1.2.1")}, []want{{"stacks/go/1.2.0/devfile.yaml", 4, `metadata.version "1.2.1" does not match its directory 1.2.0`}}},
		// Pushing: names become OCI references.
		{"stack directory name", []edit{func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "stacks/java-maven"), filepath.Join(dir, "stacks/Java-Maven")); err != nil {
				t.Fatal(err)
			}
		}}, []want{{"stacks/Java-Maven", 0, "cannot be an OCI repository name"}}},
		{"archive.tar in the repository", []edit{write("stacks/go/2.1.0/archive.tar", "x")}, []want{{"stacks/go/2.1.0/archive.tar", 0, "made by the registry build from README.md, docker, kubernetes"}}},
		{"file without a media type", []edit{write("stacks/java-maven/bundle.zip", "PK")}, []want{{"stacks/java-maven/bundle.zip", 0, "no media type for bundle.zip"}}},
		{"logo.svg is a directory", []edit{remove("stacks/java-maven/logo.svg"), write("stacks/java-maven/logo.svg/x", "")}, []want{{"stacks/java-maven/logo.svg", 0, "is a directory"}}},
		// No file may lead outside the repository.
		{"devfile symlink outside", []edit{func(t *testing.T, dir string) {
			outside := filepath.Join(filepath.Dir(dir), "outside.yaml")
			os.WriteFile(outside, []byte(minimalDevfile), 0o644)
			symlink(outside, javaDevfile)(t, dir)
		}}, []want{{javaDevfile, 0, "leads outside the repository"}}},
		{"logo symlink outside", []edit{symlink("/etc/hostname", "stacks/java-maven/logo.svg")}, []want{{"stacks/java-maven/logo.svg", 0, "leads outside the repository"}}},
		{"packed symlink outside the stack", []edit{symlink("../../../extraDevfileEntries.yaml", "stacks/go/2.1.0/extra.yaml")}, []want{{"stacks/go/2.1.0/extra.yaml", 0, "is a symlink to ../../../extraDevfileEntries.yaml, outside the stack directory"}}},

		// Samples (validateIndexComponent) and extraDevfileEntries.yaml.
		{"sample without git", []edit{oneSample("    displayName: S\n")}, []want{{"extraDevfileEntries.yaml", 3, `sample "s" has no git`}}},
		{"sample with two remotes", []edit{oneSample("    git:\n      remotes:\n        a: https://a\n        b: https://b\n")}, []want{{"extraDevfileEntries.yaml", 3, "multiple git remotes"}}},
		{"sample versions without a default", []edit{oneSample("    versions:\n      - {version: 1.0.0, schemaVersion: 2.2.0, git: {remotes: {origin: https://a}}}\n")},
			[]want{{"extraDevfileEntries.yaml", 3, `sample "s" has no default version`}}},
		{"sample versions with two defaults", []edit{oneSample("    versions:\n      - {version: 1.0.0, schemaVersion: 2.2.0, default: true, git: {remotes: {origin: https://a}}}\n      - {version: 1.0.1, schemaVersion: 2.2.0, default: true, git: {remotes: {origin: https://a}}}\n")},
			[]want{{"extraDevfileEntries.yaml", 3, "multiple default versions"}}},
		{"sample version without git and schemaVersion", []edit{oneSample("    versions:\n      - {version: 1.0.0, default: true}\n")}, []want{
			{"extraDevfileEntries.yaml", 3, "version 1.0.0: schemaVersion is empty"},
			{"extraDevfileEntries.yaml", 3, "version 1.0.0: git is empty"},
		}},
		{"deploymentScopes keys", []edit{oneSample(sampleGit + "    deploymentScopes: {innerloop: true, outerloop: true, midloop: true}\n")}, []want{
			{"extraDevfileEntries.yaml", 3, "deploymentScopes has 3 keys"},
			{"extraDevfileEntries.yaml", 3, `key "midloop" must be innerloop or outerloop`},
		}},
		{"extra entries type error", []edit{oneSample(sampleGit + "    tags: Java\n")}, []want{{"extraDevfileEntries.yaml", 7, "cannot unmarshal"}}},
		{"cached sample devfile missing", []edit{write("samples/nodejs-basic/1.0.0/devfile.yaml", "schemaVersion: 2.2.0\nmetadata: {name: x}\n")}, []want{
			{"samples/nodejs-basic/1.0.1/devfile.yaml", 0, "has no cached devfile here"},
			{"samples/code-with-quarkus/devfile.yaml", 0, "has no cached devfile here"},
		}},
		{"cached sample devfile invalid", []edit{
			write("samples/nodejs-basic/1.0.0/devfile.yaml", "metadata: {name: x}\n"),
			write("samples/nodejs-basic/1.0.1/devfile.yaml", minimalDevfile),
			write("samples/code-with-quarkus/devfile.yaml", minimalDevfile),
		}, []want{{"samples/nodejs-basic/1.0.0/devfile.yaml", 1, "schemaVersion is not set"}}},
		{"last_modified.json syntax", []edit{write("last_modified.json", "{\n  \"stacks\": [\n    {\"name\": \"go\",}\n  ]\n}\n")}, []want{{"last_modified.json", 3, "invalid character"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRegistry(t)
			if strings.Contains(c.name, "symlink") {
				// Keep the escape target outside the copied repository.
				dir = copyRegistry(t)
			}
			for _, e := range c.edits {
				e(t, dir)
			}
			_, err := devfile.Index(dir)
			problems := checkProblems(t, err, c.wants)
			if t.Failed() {
				return
			}
			// Load reports the same problems.
			_, _, lerr := devfile.Load(dir)
			if lerr == nil || lerr.Error() != err.Error() {
				t.Errorf("Load: %v\nIndex: %v", lerr, err)
			}
			for _, p := range problems {
				if !strings.Contains(err.Error(), p.String()) {
					t.Errorf("error text lacks %q", p)
				}
			}
		})
	}
}

// TestValidationReportsEverything: problems in several files come back in
// one error, sorted by file and line.
func TestValidationReportsEverything(t *testing.T) {
	dir := copyRegistry(t)
	for _, e := range []edit{
		devfileWith("  displayName: Maven Java\n", ""),
		replace("stacks/go/stack.yaml", "    default: true\n", ""),
		replace("stacks/go/1.2.0/devfile.yaml", "  language: go\n", ""),
		write("stacks/nodejs/devfile.yaml", minimalDevfile),
		replace("extraDevfileEntries.yaml", "        default: true\n", ""),
	} {
		e(t, dir)
	}
	_, err := devfile.Index(dir)
	problems := checkProblems(t, err, []want{
		{"extraDevfileEntries.yaml", 3, `sample "nodejs-basic" has no default version`},
		{"stacks/go/1.2.0/devfile.yaml", 2, "metadata.language is not set"},
		{"stacks/go/stack.yaml", 5, "does not contain a default version"},
		{javaDevfile, 2, "metadata.displayName is not set"},
		{"stacks/nodejs", 0, "both devfile.yaml and .devfile.yaml exist"},
	})
	for i := 1; i < len(problems); i++ {
		a, b := problems[i-1], problems[i]
		if a.File > b.File || (a.File == b.File && a.Line > b.Line) {
			t.Errorf("problems not sorted: %v before %v", a, b)
		}
	}
	if !strings.Contains(err.Error(), "problems):") {
		t.Errorf("message %q", err)
	}
}

func TestNotARegistry(t *testing.T) {
	_, err := devfile.Index(t.TempDir())
	var ve *devfile.ValidationError
	if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), "failed to read stack directory") {
		t.Errorf("error %v, want a plain error about stacks/", err)
	}
}

// TestOfflineBundleSkipped: *-offline.zip files are resources in the index
// but are not pushed (the index server skips them); meta.yaml likewise.
func TestOfflineBundleSkipped(t *testing.T) {
	dir := copyRegistry(t)
	write("stacks/java-maven/java-maven-offline.zip", "PK")(t, dir)
	write("stacks/java-maven/meta.yaml", "name: x\n")(t, dir)
	_, arts, err := devfile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := devfile.Index(dir)
	if !strings.Contains(string(idx), `"java-maven-offline.zip"`) || !strings.Contains(string(idx), `"meta.yaml"`) {
		t.Error("offline zip or meta.yaml missing from the index resources")
	}
	for _, a := range arts {
		for _, l := range a.Layers {
			if l.Title == "java-maven-offline.zip" || l.Title == "meta.yaml" {
				t.Errorf("%s pushed as a layer of %s", l.Title, a.Name)
			}
		}
	}
}
