package layers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNamespacePutGet(t *testing.T) {
	c := newCache(t)
	ns := c.Namespace("widgets")
	if ns != c.Namespace("widgets") {
		t.Fatal("the same name gave two namespaces")
	}
	if _, ok, err := ns.Get("a.json"); ok || err != nil {
		t.Fatalf("Get of a missing entry: ok=%v err=%v", ok, err)
	}
	for _, data := range []string{"one", "two"} {
		if err := ns.Put("a.json", []byte(data)); err != nil {
			t.Fatal(err)
		}
		b, ok, err := ns.Get("a.json")
		if err != nil || !ok || string(b) != data {
			t.Fatalf("Get = %q %v %v, want %q", b, ok, err, data)
		}
	}
	if got := filepath.Join(c.Dir(), "widgets", "a.json"); ns.Path("a.json") != got {
		t.Errorf("entry at %s, want %s", ns.Path("a.json"), got)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", `a\b`} {
		if err := ns.Put(bad, nil); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
		if _, _, err := ns.Get(bad); err == nil {
			t.Errorf("Get(%q) accepted", bad)
		}
	}
	ents, _ := os.ReadDir(ns.Dir())
	if len(ents) != 1 {
		t.Errorf("namespace holds %v, want a.json alone (no temporary files)", ents)
	}
}

func TestNamespaceNamePanics(t *testing.T) {
	c := newCache(t)
	for _, name := range []string{"", "../x", "a/b", "Upper", ".x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Namespace(%q) did not panic", name)
				}
			}()
			c.Namespace(name)
		}()
	}
}

// Readers racing writers see one whole entry or another, never a part.
func TestNamespacePutIsAtomic(t *testing.T) {
	c := newCache(t)
	ns := c.Namespace("race")
	a, b := bytes.Repeat([]byte("a"), 1<<16), bytes.Repeat([]byte("b"), 1<<17)
	if err := ns.Put("k", a); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				data := a
				if i%2 == 1 {
					data = b
				}
				if err := ns.Put("k", data); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				got, ok, err := ns.Get("k")
				if err != nil || !ok || !(bytes.Equal(got, a) || bytes.Equal(got, b)) {
					errs <- fmt.Errorf("read %d bytes, ok=%v, err=%v: not a whole entry", len(got), ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNamespacePutFile(t *testing.T) {
	c := newCache(t)
	ns := c.Namespace("files")
	f, err := c.TempFile("x-*")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("content")
	f.Close()
	p, err := ns.PutFile("entry", f.Name())
	if err != nil || p != ns.Path("entry") {
		t.Fatalf("PutFile = %s, %v", p, err)
	}
	if b, ok, _ := ns.Get("entry"); !ok || string(b) != "content" {
		t.Fatalf("after PutFile: %q %v", b, ok)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("entry mode %v, want 0644", fi.Mode().Perm())
	}
}

// A namespace another package (or another process) made is reported,
// pruned and verified with no change to the maintenance code.
func TestMaintenanceSeesEveryNamespace(t *testing.T) {
	c := newCache(t)
	if err := c.Namespace("widgets").Put("w1", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	// Another process: it never registered "widgets".
	other, err := OpenCache(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range []*Cache{c, other} {
		u, err := cc.Usage()
		if err != nil {
			t.Fatal(err)
		}
		if w := u.Of("widgets"); w.Entries != 1 || w.Bytes != 5 {
			t.Fatalf("usage of widgets: %+v in %+v", w, u)
		}
		if u.Bytes() != 5 {
			t.Errorf("total %d bytes, want 5", u.Bytes())
		}
		var names []string
		for _, n := range u.Namespaces {
			names = append(names, n.Name)
		}
		if want := "blobs keys downloads refs verified tmp widgets"; strings.Join(names, " ") != want {
			t.Errorf("namespaces %v, want %s", names, want)
		}
	}
	if r, err := other.Prune(30); err != nil || r.Removed != 0 {
		t.Fatalf("prune of a fresh entry removed %d (%v)", r.Removed, err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	os.Chtimes(c.Namespace("widgets").Path("w1"), old, old)
	if r, err := other.Prune(30); err != nil || r.Removed != 1 || r.Bytes != 5 {
		t.Fatalf("prune of an old entry: %+v %v", r, err)
	}
	if _, ok, _ := c.Namespace("widgets").Get("w1"); ok {
		t.Fatal("pruned entry still there")
	}
}

func TestVerifyChecksRegisteredNamespace(t *testing.T) {
	c := newCache(t)
	ns := c.Namespace("checked", WithEntryCheck(func(key string, r io.Reader) error {
		b, _ := io.ReadAll(r)
		if string(b) != "good" {
			return errors.New("not good")
		}
		return nil
	}))
	ns.Put("fine", []byte("good"))
	ns.Put("broken", []byte("bad"))
	probs, err := c.Verify(false)
	if err != nil || len(probs) != 1 || probs[0].Path != ns.Path("broken") || probs[0].Reason != "not good" {
		t.Fatalf("verify: %+v %v", probs, err)
	}
	if _, ok, _ := ns.Get("broken"); !ok {
		t.Fatal("verify without fix removed an entry")
	}
	if probs, err := c.Verify(true); err != nil || len(probs) != 1 {
		t.Fatalf("verify --fix: %+v %v", probs, err)
	}
	if _, ok, _ := ns.Get("broken"); ok {
		t.Fatal("verify --fix left the bad entry")
	}
	if probs, err := c.Verify(false); err != nil || len(probs) != 0 {
		t.Fatalf("verify after fix: %+v %v", probs, err)
	}
}
