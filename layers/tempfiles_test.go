package layers

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTempFilesOfEndedProcesses: temporary files are counted by Usage; Prune
// (even with keepDays 0) keeps those a live process holds, and Prune, Verify
// --fix and CleanTemp remove those of a process that ended, at once, and
// ownerless ones once they are an hour old. The end-to-end test kills a real
// build; here a process's end is its lock file being closed.
func TestTempFilesOfEndedProcesses(t *testing.T) {
	c1 := newCache(t)
	f, err := c1.TempFile("layer-*")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half a layer")
	f.Close()
	stage, err := c1.MkdirTemp("stage-*")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stage, "file"), []byte("staged"), 0o644)

	c2, err := OpenCache(c1.Dir())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := c2.Usage()
	if got := u.Of("tmp"); got.Entries != 2 || got.Bytes != int64(len("half a layer")+len("staged")) {
		t.Errorf("usage of tmp = %+v, want 2 entries of 18 bytes", got)
	}
	if r, err := c2.Prune(0); err != nil {
		t.Fatal(err)
	} else if _, err := os.Stat(f.Name()); err != nil {
		t.Fatalf("prune removed the temporary file of a live process (%+v)", r)
	}
	if probs, _ := c2.Verify(false); len(probs) != 0 {
		t.Errorf("verify reports a live process's files: %v", probs)
	}

	c1.own.lock.Close() // c1's process ends
	probs, err := c2.Verify(false)
	if err != nil || len(probs) != 2 {
		t.Fatalf("verify found %v (%v), want the file and the folder", probs, err)
	}
	if _, err := c2.Verify(true); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(c1.Dir(), "tmp"))
	if len(ents) != 0 {
		t.Errorf("verify --fix left %v", ents)
	}
	if _, err := os.Stat(filepath.Join(c1.Dir(), "locks", c1.own.id+".lock")); err == nil {
		t.Error("verify --fix left the ended process's lock file")
	}

	// Ownerless files (an older version's) and atomic writes' leftovers go by age.
	tmp := filepath.Join(c1.Dir(), "tmp")
	old := time.Now().Add(-2 * TempMaxAge)
	for _, p := range []string{filepath.Join(tmp, "layer-123"), filepath.Join(c1.Dir(), "keys", ".k.tmp-1")} {
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, old, old)
	}
	fresh := filepath.Join(tmp, "layer-456")
	os.WriteFile(fresh, []byte("x"), 0o644)
	r, err := c2.CleanTemp()
	if err != nil || r.Removed != 2 {
		t.Fatalf("CleanTemp removed %+v (%v), want the two old files", r, err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh ownerless file was removed")
	}
}
