package main

import (
	"os"
	"runtime/pprof"
	"testing"
)

func TestZZProf(t *testing.T) {
	if os.Getenv("ZZPROF") == "" {
		t.Skip()
	}
	f, _ := os.Create("/tmp/copy.prof")
	pprof.StartCPUProfile(f)
	cmd := newRootCmd()
	cmd.SetArgs([]string{"--progress", "none", "--insecure-registry", "127.0.0.1:5999", "copy", "oci:/tmp/bigl:big:latest", "docker://127.0.0.1:5999/" + os.Getenv("ZZPROF") + ":1"})
	err := cmd.Execute()
	pprof.StopCPUProfile()
	if err != nil {
		t.Fatal(err)
	}
}
