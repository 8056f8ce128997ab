package assembler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
)

// Detection keeps DESIGN.md's order, Binder's directory before a root
// Dockerfile included, and the "no convention" error names each once.
func TestDetectionOrder(t *testing.T) {
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		files []string
		want  string
	}{
		{[]string{"assemble.toml", "Dockerfile", "requirements.txt"}, "assemble.toml"},
		{[]string{"binder/requirements.txt", "Dockerfile"}, "binder"},
		{[]string{".binder/apt.txt", "Containerfile"}, "binder"},
		{[]string{"Dockerfile", "requirements.txt"}, "dockerfile"},
		{[]string{"Containerfile", "index.ipynb"}, "dockerfile"},
		{[]string{"requirements.txt"}, "binder"},
		{[]string{"Dockerfile"}, "dockerfile"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		for _, f := range c.files {
			p := filepath.Join(dir, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		name, _, err := a.Detect(dir)
		if err != nil || name != c.want {
			t.Errorf("%v: detected %q (%v), want %q", c.files, name, err, c.want)
		}
	}
	_, _, err = a.Detect(t.TempDir())
	if !errors.Is(err, ErrNoConvention) || !strings.Contains(err.Error(), "looked for: assemble.toml, domino-pieces, devfile, binder, dockerfile)") {
		t.Errorf("empty repository: %v", err)
	}
}

// Planning writes nothing into the repository; WithWriteMetadata makes Plan
// write the plan's generated files there once the convention has planned.
func TestPlanWritesMetadataOnlyWhenAsked(t *testing.T) {
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, write := range []bool{false, true} {
		repo := filepath.Join(t.TempDir(), "repo")
		if err := os.CopyFS(repo, os.DirFS("../testdata/pieces/repo")); err != nil {
			t.Fatal(err)
		}
		a, err := New(WithCache(cache), WithPieces(PiecesSettings{NoSchemas: true}), WithSourceURL("https://example.com/r"), WithWriteMetadata(write))
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Plan(context.Background(), repo)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Files) == 0 {
			t.Fatal("the pieces plan has no generated files")
		}
		for _, f := range p.Files {
			got, err := os.ReadFile(filepath.Join(repo, f.Path))
			switch {
			case write && (err != nil || !bytes.Equal(got, f.Content)):
				t.Errorf("WithWriteMetadata: %s not written as planned (%v)", f.Path, err)
			case !write && !errors.Is(err, os.ErrNotExist):
				t.Errorf("planning wrote %s into the repository (%v)", f.Path, err)
			}
		}
	}
}

// The pipeline hands its logger (WithLogger, else slog.Default()) to the
// libraries it calls through their contexts.
func TestWithLogger(t *testing.T) {
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		opts []Option
		want *slog.Logger
	}{{nil, slog.Default()}, {[]Option{WithLogger(l)}, l}} {
		a, err := New(append(c.opts, WithCache(cache))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := logctx.From(a.o.logTo(context.Background())); got != c.want {
			t.Errorf("options %d: the context carries %v, want %v", len(c.opts), got, c.want)
		}
	}
}
