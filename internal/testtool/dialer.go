package testtool

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// dialerSource connects to the unix socket its argument names and copies
// what the other side sends to stdout: what a RUN uses to show that a
// forwarded SSH agent socket answers (busybox's nc has no unix sockets).
const dialerSource = `package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	c, err := net.Dial("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	io.Copy(os.Stdout, c)
}
`

// UnixDialer builds a static program that connects to the unix socket its
// first argument names and prints what it reads, for images without libc,
// and returns its path. It needs the go tool.
func UnixDialer(t testing.TB) string {
	t.Helper()
	goTool := RequireTool(t, "go")
	dir := t.TempDir()
	src := filepath.Join(dir, "dial.go")
	if err := os.WriteFile(src, []byte(dialerSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "dial")
	cmd := exec.Command(goTool, "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the unix socket dialer: %v\n%s", err, out)
	}
	return bin
}

// AgentStandIn listens on a unix socket like an SSH agent, writing greeting
// to each connection; connected receives a value per connection (up to 16
// waiting). The socket goes with t.
func AgentStandIn(t testing.TB, greeting string) (sock string, connected <-chan struct{}) {
	t.Helper()
	dir, err := os.MkdirTemp("", "agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock = filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
			c.Write([]byte(greeting))
			c.Close()
		}
	}()
	return sock, ch
}
