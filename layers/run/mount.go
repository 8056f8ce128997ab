package run

import (
	"fmt"
	"io/fs"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MountType is the kind of a RUN --mount the sandbox sets up.
type MountType string

// The mount types of a Dockerfile RUN --mount that the sandbox provides.
const (
	// MountBind mounts a file or directory (Mount.Source) at the target.
	MountBind MountType = "bind"
	// MountTmpfs mounts an empty tmpfs.
	MountTmpfs MountType = "tmpfs"
	// MountSecret puts a secret's bytes in a file and/or a variable.
	MountSecret MountType = "secret"
	// MountSSH forwards an SSH agent's socket.
	MountSSH MountType = "ssh"
)

// BindSource is the name, at the root of a bind mount's Source layer, of
// the file or directory that is mounted.
const BindSource = "src"

// Mount is something the command sees only while it runs: nothing below a
// mount's target reaches the layer, and a target the image lacked is
// removed again (as BuildKit removes its mount stubs).
type Mount struct {
	Type MountType
	// Target is the absolute path in the sandbox. A secret with only Env
	// has none.
	Target string

	// Source (bind) is a layer whose entry BindSource is mounted: it is
	// materialised in the work directory, outside the image's tree, so a
	// ReadWrite mount's writes are discarded with it.
	Source v1.Layer
	// ReadWrite (bind) lets the command write below the target; otherwise
	// the mount is read-only.
	ReadWrite bool

	// Size (tmpfs) limits the tmpfs in bytes; 0 is the kernel's default.
	Size int64

	// Secret (secret) is the secret's value. It is never part of the
	// layer's key, never written to disk (the file lives on a tmpfs of the
	// sandbox's own), and never in the layer.
	Secret []byte
	// Env (secret) also gives the secret to the command in this variable.
	Env string

	// Socket (ssh) is the agent socket on the host; the sandbox sees a
	// forwarding socket at Target. It is not part of the key.
	Socket string

	// Mode, UID and GID (secret, ssh) are the file's or socket's.
	Mode     fs.FileMode
	UID, GID int
}

// check rejects a mount the sandbox cannot set up.
func (m Mount) check() error {
	if m.Target != "" && (!path.IsAbs(m.Target) || path.Clean(m.Target) == "/") {
		return fmt.Errorf("mount target %q: give an absolute path other than /", m.Target)
	}
	switch m.Type {
	case MountBind:
		if m.Source == nil {
			return fmt.Errorf("bind mount at %s has no source", m.Target)
		}
	case MountTmpfs:
	case MountSecret:
		if m.Target == "" && m.Env == "" {
			return fmt.Errorf("secret mount has neither a target nor env")
		}
		return nil
	case MountSSH:
		if m.Socket == "" {
			return fmt.Errorf("ssh mount at %s has no agent socket", m.Target)
		}
	default:
		return fmt.Errorf("mount type %q is not supported", m.Type)
	}
	if m.Target == "" {
		return fmt.Errorf("%s mount has no target", m.Type)
	}
	return nil
}

// mountKey is what a mount contributes to the layer's key: its shape and,
// for a bind, its source's digest. A secret's value and an agent's socket
// are left out, as BuildKit leaves them out of its cache key: a changed
// secret does not rebuild the RUN.
type mountKey struct {
	Type      MountType
	Target    string `json:",omitempty"`
	Source    string `json:",omitempty"`
	ReadWrite bool   `json:",omitempty"`
	Size      int64  `json:",omitempty"`
	Env       string `json:",omitempty"`
	Mode      uint32 `json:",omitempty"`
	UID       int    `json:",omitempty"`
	GID       int    `json:",omitempty"`
}

func mountKeys(ms []Mount) ([]mountKey, error) {
	var out []mountKey
	for _, m := range ms {
		if err := m.check(); err != nil {
			return nil, err
		}
		k := mountKey{Type: m.Type, Target: m.Target, ReadWrite: m.ReadWrite, Size: m.Size, Env: m.Env, Mode: uint32(m.Mode), UID: m.UID, GID: m.GID}
		if m.Source != nil {
			d, err := m.Source.Digest()
			if err != nil {
				return nil, fmt.Errorf("bind mount at %s: digest of its source: %w", m.Target, err)
			}
			k.Source = d.String()
		}
		out = append(out, k)
	}
	return out, nil
}
