package devfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/devfile"
)

// TestStricterThanGenerator: where assemble refuses what registry-support's
// index generator accepts, the message says that the generator accepts it,
// why assemble cannot, and what to change. One case per message.
func TestStricterThanGenerator(t *testing.T) {
	const accepts = "registry-support's index generator accepts this"
	const goStack = "stacks/go/stack.yaml"
	cases := []struct {
		name  string
		edits []edit
		file  string
		line  int
		parts []string
	}{
		{"stack directory with capitals", []edit{func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "stacks/java-maven"), filepath.Join(dir, "stacks/Java-Maven")); err != nil {
				t.Fatal(err)
			}
		}}, "stacks/Java-Maven", 0, []string{
			`stack directory name "Java-Maven" cannot be an OCI repository name (devfile-catalog/Java-Maven)`, accepts,
			"an OCI repository name must be lower-case", "so assemble cannot push it", "rename it java-maven",
		}},
		{"sample deploymentScopes key", []edit{oneSample(sampleGit + "    deploymentScopes: {innerloop: true, midloop: true}\n")}, "extraDevfileEntries.yaml", 3, []string{
			`deploymentScopes key "midloop" must be innerloop or outerloop`,
			"registry-support's index generator does not check deploymentScopes and would copy it into index.json",
			"a misspelt scope would silently match nothing", "assemble refuses it", "rename or remove it",
		}},
		{"sample deploymentScopes count", []edit{oneSample(sampleGit + "    deploymentScopes: {innerloop: true, outerloop: true, midloop: true}\n")}, "extraDevfileEntries.yaml", 3, []string{
			"deploymentScopes has 3 keys", "index generator does not check deploymentScopes", "keep innerloop and outerloop only",
		}},
		{"stack.yaml deploymentScopes key", []edit{replace(goStack, "versions:\n", "deploymentScopes:\n  inner-loop: true\nversions:\n")}, goStack, 5, []string{
			`deploymentScopes key "inner-loop" must be innerloop or outerloop`, "index generator does not check deploymentScopes",
		}},
		{"metadata.version with build metadata", []edit{devfileWith("version: 1.1.0", "version: 1.1.0+build.5")}, javaDevfile, 4, []string{
			`metadata.version "1.1.0+build.5" cannot be an OCI tag`, accepts + " (the devfile schema allows build metadata)",
			"'+' is not allowed in an OCI tag", "drop the +build part",
		}},
		{"version listed twice", []edit{replace(goStack, "  - version: 1.10.0\n", "  - version: 1.10.0\n  - version: 1.2.0\n")}, goStack, 10, []string{
			"version 1.2.0 is listed twice (first at line 6)", accepts + " and indexes it twice", "the one tag devfile-catalog/go:1.2.0", "keep one entry",
		}},
		{"metadata.version differs from its directory", []edit{replace("stacks/go/1.2.0/devfile.yaml", "version: 1.2.0", "version: 1.2.1")}, "stacks/go/1.2.0/devfile.yaml", 4, []string{
			`metadata.version "1.2.1" does not match its directory 1.2.0`, accepts + " and indexes the version as 1.2.1",
			"looks for its files in stacks/go/1.2.1/", "cannot push devfile-catalog/go:1.2.1", "make metadata.version and the directory the same",
		}},
		{"symlink outside the repository", []edit{symlink("/etc/hostname", "stacks/java-maven/logo.svg")}, "stacks/java-maven/logo.svg", 0, []string{
			"leads outside the repository", "index generator follows the link", "from the repository alone", "copy the file in",
		}},
		{"file without a media type", []edit{write("stacks/java-maven/bundle.zip", "PK")}, "stacks/java-maven/bundle.zip", 0, []string{
			"no media type for bundle.zip", accepts + " and lists it among the resources", "index server pushes only the files it has a media type for", "rename it -offline.zip",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRegistry(t)
			for _, e := range c.edits {
				e(t, dir)
			}
			_, err := devfile.Index(dir)
			problems := checkProblems(t, err, []want{{c.file, c.line, c.parts[0]}})
			for _, p := range problems {
				if p.File != c.file || !strings.Contains(p.Msg, c.parts[0]) {
					continue
				}
				for _, part := range c.parts[1:] {
					if !strings.Contains(p.Msg, part) {
						t.Errorf("message lacks %q:\n%s", part, p.Msg)
					}
				}
			}
		})
	}
}
