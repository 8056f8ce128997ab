package layers

import (
	"context"
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

// A generated directory keeps its set-id and sticky bits (a setgid home
// directory stays setgid), and type bits never reach an entry's mode.
func TestGeneratedModes(t *testing.T) {
	g := &Generated{Files: []GeneratedFile{
		{Path: "home/u", Mode: fs.ModeDir | fs.ModeSetgid | 0o775},
		{Path: "bin/tool", Mode: fs.ModeSetuid | 0o755},
	}}
	es, err := g.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Type != TypeDir || es[0].Mode != fs.ModeSetgid|0o775 {
		t.Errorf("home/u: %v %v", es[0].Type, es[0].Mode)
	}
	if es[1].Type != TypeFile || es[1].Mode != fs.ModeSetuid|0o755 {
		t.Errorf("bin/tool: %v %v", es[1].Type, es[1].Mode)
	}
}
