package dockerfile

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/assemble-build/assemble/oci"
)

// configure carries out an instruction that only changes the image config
// and returns its history line.
func (s *stage) configure(cmd instructions.Command) (string, error) {
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		msg := "ENV"
		for _, kv := range c.Env {
			s.env = setEnv(s.env, kv.Key, kv.Value)
			s.cf.Config.Env = setEnv(s.cf.Config.Env, kv.Key, kv.Value)
			msg += " " + kv.Key + "=" + kv.Value
		}
		return msg, nil
	case *instructions.MaintainerCommand:
		s.cf.Author = c.Maintainer
		return "MAINTAINER " + c.Maintainer, nil
	case *instructions.LabelCommand:
		msg := "LABEL"
		if s.cf.Config.Labels == nil {
			s.cf.Config.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			s.cf.Config.Labels[kv.Key] = kv.Value
			msg += " " + kv.Key + "=" + kv.Value
		}
		return msg, nil
	case *instructions.UserCommand:
		s.cf.Config.User = c.User
		return "USER " + c.User, nil
	case *instructions.VolumeCommand:
		if s.cf.Config.Volumes == nil {
			s.cf.Config.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return "", errors.New("VOLUME: an empty path is not a volume")
			}
			s.cf.Config.Volumes[v] = struct{}{}
		}
		return fmt.Sprintf("VOLUME %v", c.Volumes), nil
	case *instructions.ExposeCommand:
		return s.expose(c)
	case *instructions.CmdCommand:
		args := s.withShell(c.ShellDependantCmdLine)
		s.cf.Config.Cmd = args
		s.cf.Config.ArgsEscaped = true
		s.cmdSet = true
		return fmt.Sprintf("CMD %q", args), nil
	case *instructions.EntrypointCommand:
		args := s.withShell(c.ShellDependantCmdLine)
		s.cf.Config.Entrypoint = args
		if !s.cmdSet {
			s.cf.Config.Cmd = nil
		}
		return fmt.Sprintf("ENTRYPOINT %q", args), nil
	case *instructions.HealthCheckCommand:
		h := c.Health
		s.cf.Config.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		return fmt.Sprintf("HEALTHCHECK %+v", *h), nil
	case *instructions.StopSignalCommand:
		if err := checkSignal(c.Signal); err != nil {
			return "", fmt.Errorf("STOPSIGNAL %s: %w", c.Signal, err)
		}
		s.cf.Config.StopSignal = c.Signal
		return "STOPSIGNAL " + c.Signal, nil
	case *instructions.ShellCommand:
		s.cf.Config.Shell = c.Shell
		return fmt.Sprintf("SHELL %v", c.Shell), nil
	}
	return "", fmt.Errorf("%s is not supported", strings.ToUpper(cmd.Name()))
}

// expose adds EXPOSE's ports (each value expanded, then read as BuildKit
// reads it).
func (s *stage) expose(c *instructions.ExposeCommand) (string, error) {
	var ports []string
	for _, p := range c.Ports {
		ws, err := s.b.d.lex.ProcessWords(p, shell.EnvsFromSlice(s.env))
		if err != nil {
			return "", fmt.Errorf("EXPOSE %s: %w", p, err)
		}
		for _, w := range ws {
			ps, err := parsePort(w)
			if err != nil {
				return "", fmt.Errorf("EXPOSE %s: %w", w, err)
			}
			ports = append(ports, ps...)
		}
	}
	if s.cf.Config.ExposedPorts == nil {
		s.cf.Config.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		s.cf.Config.ExposedPorts[p] = struct{}{}
	}
	return fmt.Sprintf("EXPOSE %v", ports), nil
}

// parsePort reads an EXPOSE value as BuildKit does: [ip:][hostPort:]port[-end][/proto],
// giving "port/proto" for each port of the range.
func parsePort(raw string) ([]string, error) {
	parts := strings.Split(raw, ":")
	var ip, hostPort, container string
	switch n := len(parts); n {
	case 1:
		container = parts[0]
	case 2:
		hostPort, container = parts[0], parts[1]
	default:
		ip, hostPort, container = strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
	port, proto, _ := strings.Cut(container, "/")
	if port == "" {
		return nil, errors.New("no port")
	}
	switch strings.ToLower(proto) {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid protocol %q (tcp, udp or sctp)", proto)
	}
	if ip != "" {
		if strings.HasPrefix(ip, "[") {
			ip = strings.Trim(ip, "[]")
		}
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("invalid IP address %q", ip)
		}
	}
	start, end, err := portRange(port)
	if err != nil {
		return nil, err
	}
	if hostPort != "" {
		if _, _, err := portRange(hostPort); err != nil {
			return nil, fmt.Errorf("invalid host port: %w", err)
		}
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, strconv.Itoa(p)+"/"+strings.ToLower(proto))
	}
	return out, nil
}

func portRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := portNumber(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange || a == b {
		return start, start, nil
	}
	end, err := portNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("invalid port range %s", s)
	}
	return start, end, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q (0-65535)", s)
	}
	return n, nil
}

// signals are the names STOPSIGNAL accepts (with or without "SIG").
var signals = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CLD": true, "CONT": true, "FPE": true, "HUP": true,
	"ILL": true, "INT": true, "IO": true, "IOT": true, "KILL": true, "PIPE": true, "POLL": true, "PROF": true,
	"PWR": true, "QUIT": true, "SEGV": true, "STKFLT": true, "STOP": true, "SYS": true, "TERM": true, "TRAP": true,
	"TSTP": true, "TTIN": true, "TTOU": true, "URG": true, "USR1": true, "USR2": true, "VTALRM": true,
	"WINCH": true, "XCPU": true, "XFSZ": true, "RTMIN": true, "RTMAX": true,
}

func checkSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return fmt.Errorf("signal %d is out of range", n)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if base, off, ok := strings.Cut(name, "+"); ok && (base == "RTMIN") {
		if _, err := strconv.Atoi(off); err == nil {
			return nil
		}
	}
	if base, off, ok := strings.Cut(name, "-"); ok && (base == "RTMAX") {
		if _, err := strconv.Atoi(off); err == nil {
			return nil
		}
	}
	if !signals[name] {
		return fmt.Errorf("unknown signal %q", s)
	}
	return nil
}

// dirImage is a build-context directory used as a FROM base: its files on
// an empty image, as BuildKit gives a local context to FROM.
func (b *builder) dirImage(dir string, platform v1.Platform) (v1.Image, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	base, err := b.svc.Base(b.ctx, "scratch", platform)
	if err != nil {
		return nil, err
	}
	src, err := b.hostSource("build context "+dir, dir, nil)
	if err != nil {
		return nil, err
	}
	c := &copier{s: &stage{b: b}, t: newTree(b.ctx), byPath: map[string]int{}, prov: map[string]string{}}
	root, err := src.lstat("")
	if err != nil {
		return nil, err
	}
	if err := c.putDir(src, "", "", root); err != nil {
		return nil, err
	}
	l, err := b.svc.Layer(b.ctx, newEntriesLayer("build context "+dir, c.entries))
	if err != nil {
		return nil, err
	}
	return oci.Stack(base, []oci.Addition{{Layer: l, CreatedBy: "build context " + dir}}, oci.Config{}, b.o.created, nil)
}
