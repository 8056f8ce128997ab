//go:build unix

package layers

import (
	"io"
	"io/fs"
	"syscall"
)

// openHostFile opens the regular file p for one sequential read. os.Open
// would try to add each file to the runtime's poller, which refuses
// regular files: on a tree of many small files the four fcntl calls and
// the failed epoll_ctl it makes per file cost more than reading them.
func openHostFile(p string) (io.ReadCloser, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: p, Err: err}
		}
		return &hostFile{fd: fd, name: p}, nil
	}
}

// hostFile reads a file descriptor with plain read calls.
type hostFile struct {
	fd   int
	name string
}

func (f *hostFile) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, err := syscall.Read(f.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *hostFile) Close() error {
	if f.fd < 0 {
		return fs.ErrClosed
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}
