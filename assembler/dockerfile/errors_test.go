package dockerfile

import (
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Malformed Dockerfiles and bad instructions are errors naming the file,
// the line and what is wrong.
func TestMalformed(t *testing.T) {
	cases := []struct {
		df   string
		want []string
	}{
		{"FROM scratch\nFOO bar\n", []string{"Dockerfile:2:", "unknown instruction: FOO"}},
		{"FROM scratch\ncopy\n", []string{"Dockerfile:2:", "COPY requires at least two arguments"}},
		{"FROM scratch\nENV\n", []string{"Dockerfile:2:", "ENV"}},
		{"ENV A=1\nFROM scratch\n", []string{"Dockerfile:1:", "no build stage"}},
		{"# escape=ab\nFROM scratch\n", []string{"Dockerfile", "escape"}},
		{"\n\n", []string{"Dockerfile is empty"}},
		{"# only a comment\n", []string{"Dockerfile"}},
		{"FROM ${MISSING}\n", []string{"Dockerfile:1:", "base name is empty"}},
		{"FROM --platform=nonsense scratch\n", []string{"Dockerfile:1:", "--platform=nonsense"}},
		{"FROM scratch\nSTOPSIGNAL SIGNOPE\n", []string{"Dockerfile:2:", "unknown signal"}},
		{"FROM scratch\nEXPOSE 80/icmp\n", []string{"Dockerfile:2:", "EXPOSE 80/icmp", "protocol"}},
		{"FROM scratch\nEXPOSE 99999\n", []string{"Dockerfile:2:", "invalid port"}},
		{"ARG S=x\nFROM scratch\nCOPY --from=${S} /a /a\n", []string{"Dockerfile:3:", "variables are not expanded in --from"}},
		{"FROM scratch\nCOPY <<EOF /x\nnever closed\n", []string{"Dockerfile"}},
		{"FROM scratch\nSHELL /bin/sh -c\n", []string{"Dockerfile:2:", "SHELL"}},
		// A repeated stage name is a warning now (issue 18): TestDuplicateStageNameWarns.
		{"FROM scratch\nRUN\n", []string{"Dockerfile:2:", "RUN has no command"}},
		{"FROM scratch\nADD https://example.com/repo.git /src\n", []string{"Dockerfile:2:", "git sources are not supported"}},
		{"FROM scratch\nHEALTHCHECK --interval=xyz CMD true\n", []string{"Dockerfile:2:", "invalid duration"}},
		{"FROM scratch\nRUN --network=bogus true\n", []string{"Dockerfile:2:", "network"}},
		{"FROM scratch\nCOPY --nonsense=1 a b\n", []string{"Dockerfile:2:", "nonsense"}},
		{"FROM UPPER:case\n", []string{"Dockerfile:1:", "UPPER"}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.df, "\n", `\n`), func(t *testing.T) {
			err := buildErr(t, newServices(t), repo(t, map[string]string{"Dockerfile": c.df}))
			mustContain(t, err, c.want...)
			t.Log(err)
		})
	}
}

// Describe lists each instruction and what it becomes, without building.
func TestDescribe(t *testing.T) {
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y gcc libc6-dev
COPY hello.c /src/
RUN gcc -static -o /hello /src/hello.c
FROM python:3.11-slim AS unused
RUN pip install six
FROM scratch
COPY --from=build /hello /hello
ENTRYPOINT ["/hello"]
`,
		"hello.c": "int main(){return 0;}\n",
	})
	steps, err := Describe(dir, plan.Dockerfile{Path: "Dockerfile", Context: "."}, WithTarget("1"))
	if err == nil {
		t.Fatalf("target by index should fail: %v", steps)
	}
	steps, err = Describe(dir, plan.Dockerfile{Path: "Dockerfile", Context: ".", Target: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[1].Becomes != "python layer: six" || steps[0].Becomes != "base docker://docker.io/library/python:3.11-slim" {
		t.Errorf("target unused: %+v", steps)
	}
	d := plan.Dockerfile{Path: "Dockerfile", Context: "."}
	steps, err = Describe(dir, d, WithBuildContexts(map[string]string{"debian:bookworm": "deb:bookworm"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Stage: "build", Line: 1, Instruction: "FROM debian:bookworm AS build", Becomes: "base deb:bookworm (build context debian:bookworm)"},
		{Stage: "build", Line: 2, Instruction: "RUN apt-get update && apt-get install -y gcc libc6-dev", Becomes: "deb layer: gcc libc6-dev (Recommends are not installed)"},
		{Stage: "build", Line: 3, Instruction: "COPY hello.c /src/", Becomes: "layer: 2 entries -> /src/"},
		{Stage: "build", Line: 4, Instruction: "RUN gcc -static -o /hello /src/hello.c", Becomes: "run in the sandbox (`gcc -static -o /hello /src/hello.c` is not a package install)"},
		{Stage: "2", Line: 7, Instruction: "FROM scratch", Becomes: "empty base (scratch)"},
		{Stage: "2", Line: 8, Instruction: "COPY --from=build /hello /hello", Becomes: "layer: copy from stage build -> /hello"},
		{Stage: "2", Line: 9, Instruction: `ENTRYPOINT ["/hello"]`, Becomes: "config"},
	}
	if len(steps) != len(want) {
		t.Fatalf("steps:\n%+v", steps)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Errorf("step %d = %+v\n      want %+v", i, steps[i], want[i])
		}
	}
}
