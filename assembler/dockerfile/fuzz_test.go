package dockerfile

import (
	"context"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// FuzzTranslate feeds RUN scripts to the translation decision (package
// layer or sandbox): it never panics, a translated RUN has installs and
// no reason to run, and only a script that says "install" is translated.
// hack/test.sh runs it briefly.
func FuzzTranslate(f *testing.F) {
	for _, s := range runSeeds(f) {
		f.Add(s, "", false)
	}
	for _, s := range []string{
		"apt-get install -y curl", "apt-get update -qq && apt-get install -qqy --no-install-recommends curl ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/*",
		"apt install -y -o Dpkg::Options::=--force-confold vim", "pip install --no-cache-dir numpy==1.26.4", "pip3 install -q -U 'flask[async]>=3'",
		"/usr/local/bin/python3.11 -m pip install six", "apt-get install -y curl | tee log", "apt-get install -y $(cat pkgs)",
		"apt-get install -y lib*", "pip install -r requirements.txt", "FOO=1 apt-get install -y curl", "if true; then apt-get install -y curl; fi",
		"apt-get install -y curl &", "apt-get install -y \"unterminated", "pip install 'six' \\\n  && echo ${HOME:-x}",
	} {
		f.Add(s, "", false)
		f.Add(s, "app", true)
	}
	f.Fuzz(func(t *testing.T, script, user string, exec bool) {
		s := &stage{b: &builder{}, prov: map[string]string{}, cf: configOfUser(user), env: []string{"PATH=" + defaultPath}, tree: newTree(context.Background())}
		var got translation
		if exec {
			got = s.translate("", strings.Fields(script), "Dockerfile:1")
		} else {
			got = s.translate(script, nil, "Dockerfile:1")
		}
		if (got.why == "") != (len(got.installs) > 0) {
			t.Fatalf("%q: why %q with %d installs", script, got.why, len(got.installs))
		}
		if got.why == "" && !strings.Contains(script, "install") {
			t.Errorf("%q translated, yet it installs nothing: %+v", script, got.installs)
		}
	})
}

// runSeeds are the RUN scripts of the Dockerfiles in testdata, continuation
// lines joined.
func runSeeds(f *testing.F) []string {
	f.Helper()
	var out []string
	for _, b := range testtool.ReadFiles(f, "../../testdata/dockerfiles/*/Dockerfile") {
		text := strings.ReplaceAll(string(b), "\\\n", " ")
		for _, line := range strings.Split(text, "\n") {
			if script, ok := strings.CutPrefix(line, "RUN "); ok && !strings.HasPrefix(script, "<<") {
				out = append(out, script)
			}
		}
	}
	return out
}
