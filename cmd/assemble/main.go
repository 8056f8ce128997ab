// Command assemble turns a repository into OCI images without a container
// daemon. See README.md for the conventions it reads and the outputs it writes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
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
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "assemble:", errorMessage(err))
		os.Exit(1)
	}
}
