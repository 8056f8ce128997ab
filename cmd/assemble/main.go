// Command assemble turns a repository into OCI images without a container
// daemon. See README.md for the conventions it reads and the outputs it writes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/assemble-build/assemble/oci/cstorage"
)

func main() {
	// podman's storage library re-runs this binary to unpack layers: that
	// child does its work in Init and must not run the CLI.
	if cstorage.Init() {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	err := newRootCmd().ExecuteContext(ctx)
	stopProfile()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "assemble:", errorMessage(err))
		os.Exit(1)
	}
}

// startProfile writes a CPU profile to $ASSEMBLE_CPUPROFILE when it is set
// (for `go tool pprof`; bench/run.sh's scale case and issue 17's no-op work
// use it). Not a flag: it is for the project's own measurements, not users.
func startProfile() (stop func()) {
	p := os.Getenv("ASSEMBLE_CPUPROFILE")
	if p == "" {
		return func() {}
	}
	f, err := os.Create(p)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "assemble: ASSEMBLE_CPUPROFILE=%s: %v\n", p, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
