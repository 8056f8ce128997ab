package dockerfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/run"
)

// BuildKit's defaults for the file a secret mount makes and the socket an
// ssh mount makes.
const (
	secretMode = 0o400
	sshMode    = 0o600
	// maxSecretSize is BuildKit's limit on a secret file (500 KiB).
	maxSecretSize = 500 * 1024
)

// runMounts turns a RUN's --mount flags into the sandbox's mounts, as
// BuildKit's dockerfile2llb does (targets, ids, defaults); env is what the
// command's environment gains (SSH_AUTH_SOCK). Cache mounts are not
// mounted (see the package comment). In a dry run only the checks are made.
func (s *stage) runMounts(c *instructions.RunCommand) (mounts []run.Mount, env []string, err error) {
	nSSH := 0
	for _, m := range instructions.GetMounts(c) {
		var rm *run.Mount
		switch m.Type {
		case instructions.MountTypeCache:
			if s.b.dry() {
				continue
			}
			logctx.From(s.b.ctx).Warn("RUN --mount=type=cache: no cache is mounted; what the command writes there stays in the layer", "target", m.Target)
			continue
		case instructions.MountTypeBind:
			rm, err = s.bindMount(m)
		case instructions.MountTypeTmpfs:
			rm = &run.Mount{Type: run.MountTmpfs, Size: m.SizeLimit}
			rm.Target, err = s.mountTarget(m.Target)
		case instructions.MountTypeSecret:
			rm, err = s.secretMount(m)
		case instructions.MountTypeSSH:
			rm, err = s.sshMount(m, nSSH)
			if err == nil && nSSH == 0 {
				// BuildKit points SSH_AUTH_SOCK at the first ssh mount.
				if _, ok := getEnv(s.env, "SSH_AUTH_SOCK"); !ok {
					env = append(env, "SSH_AUTH_SOCK="+sshTarget(m, s, 0))
				}
			}
			nSSH++
		default:
			err = fmt.Errorf("mount type %q is not supported", m.Type)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("RUN --mount=type=%s: %w", m.Type, err)
		}
		if rm != nil {
			mounts = append(mounts, *rm)
		}
	}
	return mounts, env, nil
}

// mountTarget is target made absolute against the working directory, as
// BuildKit has it; "/" is refused.
func (s *stage) mountTarget(target string) (string, error) {
	if target == "" {
		return "", errors.New("it needs a target")
	}
	t := target
	if !path.IsAbs(t) {
		wd := s.cf.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		t = path.Join("/", wd, t)
	}
	t = path.Clean(t)
	if t == "/" {
		return "", fmt.Errorf("invalid mount target %q", target)
	}
	return t, nil
}

// bindMount is a bind of the build context, a stage, a named build context
// or an image (from=), read-only unless rw: its source (source=, the whole
// of it by default) becomes a layer the sandbox mounts, so the RUN's key
// covers its content.
func (s *stage) bindMount(m *instructions.Mount) (*run.Mount, error) {
	target, err := s.mountTarget(m.Target)
	if err != nil {
		return nil, err
	}
	var src source
	label := "the build context"
	if m.From == "" {
		if !s.b.dry() {
			src, err = s.b.mainContext()
		}
	} else {
		src, label, err = s.b.fromSource(m.From, s.idx)
	}
	if err != nil {
		return nil, fmt.Errorf("from=%s: %w", m.From, err)
	}
	if src == nil { // a dry run: nothing is read
		return &run.Mount{Type: run.MountBind, Target: target, ReadWrite: !m.ReadOnly}, nil
	}
	rel := strings.TrimPrefix(path.Clean("/"+m.Source), "/")
	resolved, err := src.resolve(rel)
	if err != nil {
		return nil, fmt.Errorf("source=%s in %s: %w", m.Source, label, err)
	}
	i, err := src.lstat(resolved)
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("source=%s: not found in %s", m.Source, label)
		}
		return nil, fmt.Errorf("source=%s in %s: %w", m.Source, label, err)
	}
	entries, err := s.mountEntries(src, resolved, i)
	if err != nil {
		return nil, fmt.Errorf("source=%s in %s: %w", m.Source, label, err)
	}
	l, err := s.b.svc.Layer(s.b.ctx, newEntriesLayer("bind mount source /"+rel+" of "+label, entries))
	if err != nil {
		return nil, fmt.Errorf("source=%s in %s: %w", m.Source, label, err)
	}
	return &run.Mount{Type: run.MountBind, Target: target, Source: l, ReadWrite: !m.ReadOnly}, nil
}

// mountEntries lists p of src, and what is below it, under the name
// run.BindSource: files as they are in the source (owners kept from an
// image, root's for local files, as for COPY).
func (s *stage) mountEntries(src source, p string, root info) ([]layers.Entry, error) {
	var out []layers.Entry
	var walk func(p, name string, i info) error
	walk = func(p, name string, i info) error {
		if i.special {
			return nil
		}
		if err := s.b.ctx.Err(); err != nil {
			return err
		}
		e := layers.Entry{Path: name, Type: i.typ, Mode: i.mode, Size: i.size, Link: i.link}
		if src.keepOwners() {
			e.UID, e.GID = i.uid, i.gid
		}
		if i.typ == layers.TypeFile {
			e.Open = func() (io.ReadCloser, error) { return src.open(p) }
		}
		out = append(out, e)
		if !i.isDir() {
			return nil
		}
		names, err := src.readDir(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		for _, n := range names {
			cp := path.Join(p, n)
			ci, err := src.lstat(cp)
			if isNotExist(err) {
				continue
			}
			if err != nil {
				return err
			}
			if err := walk(cp, name+"/"+n, ci); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(p, run.BindSource, root)
}

// secretMount is a secret as a file (target=, /run/secrets/ID by default)
// and/or a variable (env=), with BuildKit's id rules: id=, else source=,
// else the target's base name. A secret not given is an error when
// required; otherwise its file is left out and its variable is empty, as
// in BuildKit.
func (s *stage) secretMount(m *instructions.Mount) (*run.Mount, error) {
	id := m.CacheID
	if m.Source != "" {
		id = m.Source
	}
	if id == "" {
		if m.Target == "" {
			return nil, errors.New("one of source, target required")
		}
		id = path.Base(m.Target)
	}
	rm := &run.Mount{Type: run.MountSecret, Mode: secretMode}
	if m.Env != nil {
		if *m.Env == "" {
			return nil, fmt.Errorf("id=%s: env= needs a variable name", id)
		}
		rm.Env = *m.Env
	}
	if m.Target != "" || m.Env == nil {
		t := m.Target
		if t == "" {
			t = "/run/secrets/" + path.Base(id)
		}
		var err error
		if rm.Target, err = s.mountTarget(t); err != nil {
			return nil, err
		}
	}
	fileInfo(m, rm)
	if s.b.dry() {
		return rm, nil
	}
	val, ok, err := s.b.o.secretValue(id)
	if err != nil {
		return nil, err
	}
	switch {
	case ok:
		rm.Secret = val
	case m.Required:
		return nil, fmt.Errorf("id=%s is required and no secret of that id was given: pass --secret id=%s,src=FILE (or id=%s,env=VARIABLE)", id, id, id)
	case rm.Env == "":
		return nil, nil
	default:
		rm.Target = ""
	}
	return rm, nil
}

// sshMount forwards the agent given as --ssh ID (id=, "default" unless
// set) at target=, or /run/buildkit/ssh_agent.N for the RUN's Nth ssh
// mount. An agent not given is an error when required, else no mount.
func (s *stage) sshMount(m *instructions.Mount, n int) (*run.Mount, error) {
	if m.Source != "" {
		return nil, errors.New("ssh does not support source")
	}
	id := m.CacheID
	if id == "" {
		id = "default"
	}
	target, err := s.mountTarget(sshTarget(m, s, n))
	if err != nil {
		return nil, err
	}
	rm := &run.Mount{Type: run.MountSSH, Target: target, Mode: sshMode}
	fileInfo(m, rm)
	if s.b.dry() {
		return rm, nil
	}
	sock, ok := s.b.o.ssh[id]
	if !ok {
		if m.Required {
			return nil, fmt.Errorf("id=%s is required and no agent of that id was given: pass --ssh %s (the agent of SSH_AUTH_SOCK) or --ssh %s=SOCKET", id, id, id)
		}
		return nil, nil
	}
	rm.Socket = sock
	return rm, nil
}

// sshTarget is an ssh mount's target as written, or BuildKit's default
// for the RUN's nth ssh mount.
func sshTarget(m *instructions.Mount, s *stage, n int) string {
	if m.Target != "" {
		if t, err := s.mountTarget(m.Target); err == nil {
			return t
		}
		return m.Target
	}
	return fmt.Sprintf("/run/buildkit/ssh_agent.%d", n)
}

// fileInfo applies mode=, uid= and gid= to a secret or ssh mount.
func fileInfo(m *instructions.Mount, rm *run.Mount) {
	if m.Mode != nil {
		rm.Mode = fs.FileMode(*m.Mode) & fs.ModePerm
	}
	if m.UID != nil {
		rm.UID = int(*m.UID)
	}
	if m.GID != nil {
		rm.GID = int(*m.GID)
	}
}

// secretValue reads the secret id from its file or variable, each time it
// is mounted; ok is false when no --secret gave that id.
func (o *options) secretValue(id string) (val []byte, ok bool, err error) {
	sec, ok := o.secrets[id]
	if !ok {
		return nil, false, nil
	}
	if sec.Env != "" {
		return []byte(os.Getenv(sec.Env)), true, nil
	}
	val, err = os.ReadFile(sec.File)
	if err != nil {
		return nil, false, fmt.Errorf("reading secret %s: %w (check --secret id=%s,src=FILE)", id, err, id)
	}
	if len(val) > maxSecretSize {
		return nil, false, fmt.Errorf("secret %s (%s) is %d bytes, more than the %d BuildKit allows", id, sec.File, len(val), maxSecretSize)
	}
	return val, true, nil
}

// describeMounts words a RUN's mounts for `assemble plan`.
func describeMounts(ms []run.Mount) string {
	var parts []string
	for _, m := range ms {
		d := string(m.Type)
		if m.Target != "" {
			d += " at " + m.Target
		}
		if m.Env != "" {
			d += " as $" + m.Env
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, ", ")
}
