package conda

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// pkg makes a record: "name version build_number" plus depends.
func pkg(name, version string, bn int, depends ...string) Record {
	return Record{Name: name, Version: version, Build: fmt.Sprintf("h0_%d", bn), BuildNumber: bn, Depends: depends}
}

// channel writes recs as a subdir's repodata.json and reads it back, as the
// client would.
func channel(t testing.TB, name, subdir string, recs ...Record) *Repodata {
	t.Helper()
	pk := map[string]Record{}
	for _, r := range recs {
		r.SHA256 = strings.Repeat("0", 64)
		if r.Depends == nil {
			r.Depends = []string{}
		}
		pk[fmt.Sprintf("%s-%s-%s.conda", r.Name, r.Version, r.Build)] = r
	}
	b, err := fastJSON.Marshal(map[string]any{"info": map[string]string{"subdir": subdir}, "packages.conda": pk})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ParseRepodata(Channel{Name: name, URL: "https://conda.example/" + name}, subdir, b)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func solve(t *testing.T, ix *Index, specs []string, opts ...SolveOption) (Solution, error) {
	t.Helper()
	var reqs []Request
	for i, s := range specs {
		reqs = append(reqs, Request{Spec: s, Where: fmt.Sprintf("environment.yml:%d", i+4)})
	}
	return ix.Solve(reqs, opts...)
}

func names(sol Solution) string {
	var out []string
	for _, r := range sol.Records {
		out = append(out, r.Name+"="+r.Version+"="+r.Build)
	}
	return strings.Join(out, " ")
}

func mustSolve(t *testing.T, ix *Index, specs []string, want string, opts ...SolveOption) Solution {
	t.Helper()
	sol, err := solve(t, ix, specs, opts...)
	if err != nil {
		t.Fatalf("%v: %v", specs, err)
	}
	if got := names(sol); got != want {
		t.Errorf("%v:\n got %s\nwant %s", specs, got, want)
	}
	return sol
}

// Highest version, then highest build number; dependencies before their
// dependents; the record keeps its channel, subdir, file name and URL.
func TestSolvePreferenceAndOrder(t *testing.T) {
	ix := NewIndex(channel(t, "conda-forge", "linux-64",
		pkg("python", "3.11.9", 0, "libzlib >=1.2"), pkg("python", "3.12.1", 0, "libzlib >=1.2"),
		pkg("libzlib", "1.3.1", 0), pkg("libzlib", "1.3.1", 2), pkg("libzlib", "1.2.13", 5),
	), channel(t, "conda-forge", "noarch", pkg("six", "1.16.0", 0, "python")))
	sol := mustSolve(t, ix, []string{"six", "python=3.11"}, "libzlib=1.3.1=h0_2 python=3.11.9=h0_0 six=1.16.0=h0_0")
	r := sol.Records[2]
	if r.Subdir != "noarch" || r.Channel != "https://conda.example/conda-forge" || r.URL != "https://conda.example/conda-forge/noarch/six-1.16.0-h0_0.conda" || r.Filename != "six-1.16.0-h0_0.conda" {
		t.Errorf("record %+v", r)
	}
	if strings.Join(sol.Requested, ",") != "six,python=3.11" {
		t.Errorf("requested %v", sol.Requested)
	}
}

// The newest a depends on a c that b cannot use: the solver backs off to
// the older a.
func TestSolveBacktracking(t *testing.T) {
	ix := NewIndex(channel(t, "c", "linux-64",
		pkg("a", "2.0", 0, "c >=2"), pkg("a", "1.0", 0, "c 1.*"),
		pkg("b", "1.0", 0, "c <2"),
		pkg("c", "1.5", 0), pkg("c", "2.1", 0),
		pkg("d", "3.0", 0, "e 3.*"), pkg("d", "2.0", 0, "e 2.*"), pkg("e", "3.0", 0, "f >=9"), pkg("e", "2.0", 0), pkg("f", "1.0", 0),
	))
	mustSolve(t, ix, []string{"a", "b"}, "c=1.5=h0_0 a=1.0=h0_0 b=1.0=h0_0")
	// d 3.0's e 3.0 needs an f no channel has: back to d 2.0.
	mustSolve(t, ix, []string{"d"}, "e=2.0=h0_0 d=2.0=h0_0")
}

// A constrains limits a package only when something installs it.
func TestSolveConstrains(t *testing.T) {
	ix := NewIndex(channel(t, "c", "linux-64",
		Record{Name: "numpy", Version: "2.0", Build: "0", Constrains: []string{"scipy >=1.13"}},
		Record{Name: "numpy", Version: "1.26", Build: "0"},
		pkg("scipy", "1.11", 0), pkg("scipy", "1.14", 0),
		pkg("pandas", "2.0", 0),
	))
	mustSolve(t, ix, []string{"numpy"}, "numpy=2.0=0")
	mustSolve(t, ix, []string{"numpy", "scipy"}, "numpy=2.0=0 scipy=1.14=h0_0")
	mustSolve(t, ix, []string{"numpy", "scipy <1.12"}, "numpy=1.26=0 scipy=1.11=h0_0")
	// Chosen first, then constrained: the constraint still holds.
	mustSolve(t, ix, []string{"scipy 1.11", "numpy"}, "numpy=1.26=0 scipy=1.11=h0_0")
}

// __glibc comes from the image: a package built for a newer glibc is
// passed over, and one needing any glibc fails on a musl image.
func TestSolveVirtualGlibc(t *testing.T) {
	ix := NewIndex(channel(t, "c", "linux-64",
		pkg("tool", "2.0", 0, "__glibc >=2.28"), pkg("tool", "1.0", 0, "__glibc >=2.17", "__unix"),
		pkg("arm", "1.0", 0, "__archspec * aarch64"), pkg("gpu", "1.0", 0, "__cuda >=12"),
	))
	mustSolve(t, ix, []string{"tool"}, "tool=2.0=h0_0", WithVirtual(VirtualPackages("2.36", "x86_64")...))
	mustSolve(t, ix, []string{"tool"}, "tool=1.0=h0_0", WithVirtual(VirtualPackages("2.17", "x86_64")...))
	_, err := solve(t, ix, []string{"tool"}, WithVirtual(VirtualPackages("", "x86_64")...))
	if err == nil || !strings.Contains(err.Error(), "__glibc is a virtual package the image does not provide") {
		t.Errorf("no glibc: %v", err)
	}
	if _, err := solve(t, ix, []string{"arm"}, WithVirtual(VirtualPackages("2.36", "x86_64")...)); err == nil {
		t.Errorf("an aarch64 package resolved on x86_64")
	}
	mustSolve(t, ix, []string{"arm"}, "arm=1.0=h0_0", WithVirtual(VirtualPackages("2.36", "aarch64")...))
	_, err = solve(t, ix, []string{"gpu"}, WithVirtual(VirtualPackages("2.36", "x86_64")...))
	if err == nil || !strings.Contains(err.Error(), "__cuda") {
		t.Errorf("cuda: %v", err)
	}
	// A request on a virtual package is checked against the image.
	_, err = solve(t, ix, []string{"__glibc >=2.40"}, WithVirtual(VirtualPackages("2.36", "x86_64")...))
	if err == nil || !strings.Contains(err.Error(), "__glibc 2.36 0 (provided by the image)") {
		t.Errorf("glibc request: %v", err)
	}
}

// A build with track_features ranks below one without, whatever its
// version or build number; asked for by build string, it is chosen.
func TestSolveTrackFeatures(t *testing.T) {
	mkl := Record{Name: "blas", Version: "2.0", Build: "mkl_9", BuildNumber: 9, TrackFeatures: "blas_mkl"}
	ix := NewIndex(channel(t, "c", "linux-64", mkl, Record{Name: "blas", Version: "1.0", Build: "openblas_0"}))
	mustSolve(t, ix, []string{"blas"}, "blas=1.0=openblas_0")
	mustSolve(t, ix, []string{"blas * mkl*"}, "blas=2.0=mkl_9")
}

// Strict channel priority: a package the first channel has comes only from
// it, even when a later channel has a newer version; a spec naming the
// channel, or flexible priority, reaches the other.
func TestSolveChannelPriority(t *testing.T) {
	ix := NewIndex(
		channel(t, "first", "linux-64", pkg("x", "1.0", 0)), channel(t, "first", "noarch"),
		channel(t, "second", "linux-64", pkg("x", "2.0", 0), pkg("y", "1.0", 0, "x >=2")),
	)
	mustSolve(t, ix, []string{"x"}, "x=1.0=h0_0")
	sol := mustSolve(t, ix, []string{"second::x"}, "x=2.0=h0_0")
	if sol.Records[0].Channel != "https://conda.example/second" {
		t.Errorf("channel %s", sol.Records[0].Channel)
	}
	if _, err := solve(t, ix, []string{"y"}); err == nil {
		t.Errorf("strict priority: x 2.0 taken from the second channel")
	}
	mustSolve(t, ix, []string{"y"}, "x=2.0=h0_0 y=1.0=h0_0", WithFlexiblePriority())
	mustSolve(t, ix, []string{"x"}, "x=1.0=h0_0", WithFlexiblePriority())
}

// An unsatisfiable environment names the package and who asked for what,
// with the environment file's lines.
func TestSolveUnsatisfiable(t *testing.T) {
	ix := NewIndex(channel(t, "c", "linux-64",
		pkg("a", "1.0", 0, "c >=2"), pkg("b", "1.0", 0, "c <2"), pkg("c", "1.5", 0), pkg("c", "2.1", 0),
	))
	_, err := solve(t, ix, []string{"a", "b"})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Name != "c" {
		t.Fatalf("%T %v", err, err)
	}
	for _, want := range []string{
		"cannot satisfy c:",
		"environment.yml:4 asks for a → a 1.0 h0_0 depends on c >=2",
		"environment.yml:5 asks for b → b 1.0 h0_0 depends on c <2",
		"available: 2.1 h0_0, 1.5 h0_0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = solve(t, ix, []string{"a", "nosuch >=1"})
	if err == nil || !strings.Contains(err.Error(), "environment.yml:5 asks for nosuch >=1") || !strings.Contains(err.Error(), "no channel has a package nosuch") {
		t.Errorf("missing package: %v", err)
	}
	_, err = solve(t, ix, []string{"c 9"})
	if err == nil || !strings.Contains(err.Error(), "environment.yml:4 asks for c 9") {
		t.Errorf("no version: %v", err)
	}
	if _, err := solve(t, ix, []string{"a[bogus=1]"}); err == nil || !strings.Contains(err.Error(), "environment.yml:4: match spec") {
		t.Errorf("bad spec: %v", err)
	}
}

// Packages of the environment below are kept and satisfy dependencies;
// only new packages are in the solution; a request against one names it.
func TestSolveInstalled(t *testing.T) {
	ix := NewIndex(channel(t, "c", "linux-64",
		pkg("python", "3.12.0", 0), pkg("python", "3.11.0", 0), pkg("numpy", "1.0", 0, "python >=3.10"),
	))
	base := mustSolve(t, ix, []string{"python=3.11"}, "python=3.11.0=h0_0")
	mustSolve(t, ix, []string{"numpy"}, "numpy=1.0=h0_0", WithInstalled(base.Records...))
	_, err := solve(t, ix, []string{"python=3.12"}, WithInstalled(base.Records...))
	if err == nil || !strings.Contains(err.Error(), "installed in the environment below") {
		t.Errorf("%v", err)
	}
}

// The search is bounded: a hopeless problem ends with a message, not a hang.
func TestSolveMaxSteps(t *testing.T) {
	var recs []Record
	for i := 0; i < 30; i++ {
		recs = append(recs, pkg("a", fmt.Sprintf("1.%d", i), 0, "b"), pkg("b", fmt.Sprintf("1.%d", i), 0, "z"))
	}
	recs = append(recs, pkg("z", "1", 0))
	ix := NewIndex(channel(t, "c", "linux-64", recs...))
	_, err := solve(t, ix, []string{"a"}, WithMaxSteps(2))
	if err == nil || !strings.Contains(err.Error(), "the solver gave up after 2 decisions") {
		t.Fatalf("%v", err)
	}
	mustSolve(t, ix, []string{"a"}, "z=1=h0_0 b=1.29=h0_0 a=1.29=h0_0")
}

// A dependency on a package already chosen, or provided by the image, that
// it does not satisfy is reported with the chain that asked.
func TestSolveConflictWithChosen(t *testing.T) {
	ix := NewIndex(channel(t, "c", "linux-64",
		pkg("hello", "2.0", 0, "lib 2.*"), pkg("lib", "2.0", 0, "__glibc >=9.0"),
		pkg("x", "1.0", 0, "y", "z"), pkg("y", "1.0", 0, "w 1.*"), pkg("z", "1.0", 0, "w 2.*"), pkg("w", "1.0", 0), pkg("w", "2.0", 0),
	))
	_, err := solve(t, ix, []string{"hello"}, WithVirtual(VirtualPackages("2.36", "x86_64")...))
	if err == nil || !strings.Contains(err.Error(), "environment.yml:4 asks for hello → hello 2.0 h0_0 depends on lib 2.* → lib 2.0 h0_0 depends on __glibc >=9.0") ||
		!strings.Contains(err.Error(), "but __glibc is __glibc 2.36 0 (provided by the image)") {
		t.Errorf("%v", err)
	}
	_, err = solve(t, ix, []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "cannot satisfy w:") || !strings.Contains(err.Error(), "depends on w 1.*") || !strings.Contains(err.Error(), "depends on w 2.*") {
		t.Errorf("%v", err)
	}
}

// BenchmarkSolve solves 30 requests over a channel of 200 packages with 20
// versions each, every version depending on three others.
func BenchmarkSolve(b *testing.B) {
	var recs []Record
	for n := 0; n < 200; n++ {
		for v := 0; v < 20; v++ {
			var deps []string
			for k := 1; k <= 3; k++ {
				if d := n + k*7; d < 200 {
					deps = append(deps, fmt.Sprintf("p%d >=1.%d", d, v/2))
				}
			}
			recs = append(recs, pkg(fmt.Sprintf("p%d", n), fmt.Sprintf("1.%d", v), 0, deps...))
		}
	}
	ix := NewIndex(channel(b, "c", "linux-64", recs...))
	var reqs []Request
	for n := 0; n < 30; n++ {
		reqs = append(reqs, Request{Spec: fmt.Sprintf("p%d", n*3), Where: "x"})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sol, err := ix.Solve(reqs)
		if err != nil || len(sol.Records) == 0 {
			b.Fatal(err)
		}
	}
}

// What was asked for is decided first, so it gets its newest version even
// where deciding a dependency with fewer candidates first would hold it back.
func TestSolveRequestedFirst(t *testing.T) {
	ix := NewIndex(channel(t, "c", "linux-64",
		pkg("app", "3.0", 0, "lib >=2"), pkg("app", "2.0", 0, "lib"), pkg("app", "1.0", 0, "lib"),
		pkg("tool", "1.0", 0, "lib"),
		pkg("lib", "2.0", 0), pkg("lib", "1.0", 0),
	))
	mustSolve(t, ix, []string{"tool", "app"}, "lib=2.0=h0_0 app=3.0=h0_0 tool=1.0=h0_0")
}
