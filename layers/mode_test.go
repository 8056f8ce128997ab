package layers

import (
	"io/fs"
	"testing"
)

func TestModeConversions(t *testing.T) {
	for unix, mode := range map[int64]fs.FileMode{
		0o644:  0o644,
		0o4755: fs.ModeSetuid | 0o755,
		0o2775: fs.ModeSetgid | 0o775,
		0o1777: fs.ModeSticky | 0o777,
		0o7000: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky,
	} {
		if got := ModeFromUnix(unix); got != mode {
			t.Errorf("ModeFromUnix(%o) = %v, want %v", unix, got, mode)
		}
		if got := UnixMode(mode | fs.ModeDir); got != unix {
			t.Errorf("UnixMode(%v) = %o, want %o", mode, got, unix)
		}
	}
	if got := ModeFromUnix(0o100644); got != 0o644 {
		t.Errorf("type bits kept: %v", got)
	}
}
