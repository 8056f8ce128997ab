package dockerfile

import (
	"encoding/csv"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a build secret a RUN --mount=type=secret reads: from a file or
// from a variable of this process, read when the RUN is carried out. Its
// value never enters a layer, the history, the config or a cache key.
type Secret struct {
	ID string
	// File is the file holding the secret (absolute, or relative to the
	// working directory); Env the variable holding it. One is set.
	File, Env string
}

// SSHAgent is an SSH agent a RUN --mount=type=ssh forwards: the socket
// of the agent (as SSH_AUTH_SOCK names it) under an id ("default").
type SSHAgent struct {
	ID, Socket string
}

// WithSecrets gives RUN --mount=type=secret its secrets (--secret).
func WithSecrets(secrets ...Secret) Option {
	return func(o *options) {
		for _, s := range secrets {
			o.secrets[s.ID] = s
		}
	}
}

// WithSSH gives RUN --mount=type=ssh its agents (--ssh).
func WithSSH(agents ...SSHAgent) Option {
	return func(o *options) {
		for _, a := range agents {
			o.ssh[a.ID] = a.Socket
		}
	}
}

// ParseSecret reads a --secret flag as docker buildx takes it:
// id=ID[,src=FILE|,env=VAR][,type=file|env] (source= for src=). With
// neither src nor env, the variable named ID is taken when it is set,
// else the file named ID, as BuildKit's secret store does.
func ParseSecret(flag string) (Secret, error) {
	fields, err := csv.NewReader(strings.NewReader(flag)).Read()
	if err != nil {
		return Secret{}, fmt.Errorf("--secret %q: %w", flag, err)
	}
	var s Secret
	typ := ""
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return Secret{}, fmt.Errorf("--secret %q: invalid field %q: use KEY=VALUE (id=ID,src=FILE or id=ID,env=VARIABLE)", flag, f)
		}
		switch strings.ToLower(key) {
		case "type":
			if val != "file" && val != "env" {
				return Secret{}, fmt.Errorf("--secret %q: unsupported secret type %q (file or env)", flag, val)
			}
			typ = val
		case "id":
			s.ID = val
		case "source", "src":
			s.File = val
		case "env":
			s.Env = val
		default:
			return Secret{}, fmt.Errorf("--secret %q: unexpected key %q (id, src, env, type)", flag, key)
		}
	}
	if typ == "env" && s.Env == "" {
		s.Env, s.File = s.File, ""
	}
	if s.ID == "" {
		return Secret{}, fmt.Errorf("--secret %q: the secret has no id: use id=ID,src=FILE", flag)
	}
	if s.File != "" && s.Env != "" {
		return Secret{}, fmt.Errorf("--secret %q: give src= or env=, not both", flag)
	}
	if s.File == "" && s.Env == "" {
		if _, ok := os.LookupEnv(s.ID); ok {
			s.Env = s.ID
		} else {
			s.File = s.ID
		}
	}
	if s.File != "" {
		abs, err := filepath.Abs(s.File)
		if err != nil {
			return Secret{}, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return Secret{}, fmt.Errorf("--secret %q: %w", flag, err)
		}
		if !fi.Mode().IsRegular() {
			return Secret{}, fmt.Errorf("--secret %q: %s is not a regular file", flag, abs)
		}
		s.File = abs
	}
	return s, nil
}

// ParseSSH reads a --ssh flag as docker buildx takes it, for agent
// sockets: ID (the agent of SSH_AUTH_SOCK) or ID=SOCKET; "default" is the
// id a RUN --mount=type=ssh uses unless it names one.
func ParseSSH(flag string) (SSHAgent, error) {
	id, sock, _ := strings.Cut(flag, "=")
	if id == "" {
		return SSHAgent{}, fmt.Errorf("--ssh %q: give ID or ID=SOCKET (--ssh default)", flag)
	}
	if strings.Contains(sock, ",") {
		return SSHAgent{}, fmt.Errorf("--ssh %q: give one agent socket; to use key files, load them into an agent (ssh-add KEY) and pass its socket", flag)
	}
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return SSHAgent{}, fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set: start an agent (eval $(ssh-agent); ssh-add) or give --ssh %s=SOCKET", flag, id)
		}
	}
	abs, err := filepath.Abs(sock)
	if err != nil {
		return SSHAgent{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return SSHAgent{}, fmt.Errorf("--ssh %s: the agent socket: %w", flag, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return SSHAgent{}, fmt.Errorf("--ssh %s: %s is not a socket: assemble forwards an agent's socket; load key files into an agent (ssh-add KEY) and pass its socket", flag, abs)
	}
	return SSHAgent{ID: id, Socket: abs}, nil
}
