package pieces

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/pyjson"
)

// An empty metadata name passes as Domino's check passes it (it compares a
// truthy name only), and the folder name stands in compiled_metadata.json.
func TestEmptyMetadataName(t *testing.T) {
	files := validFiles()
	files["pieces/TwoPiece/metadata.json"] = `{"name": "", "description": "d"}`
	_, res, err := Load(context.Background(), miniRepo(t, files), Input{Settings: Settings{NoSchemas: true}})
	if err != nil {
		t.Fatalf("an empty name is refused: %v", err)
	}
	compiled, err := pyjson.Parse(res.CompiledMetadata)
	if err != nil {
		t.Fatal(err)
	}
	if got := compiled.Get("TwoPiece").Get("name").Text(); got != "TwoPiece" {
		t.Errorf("compiled name %q, want the folder name TwoPiece", got)
	}
	if !strings.Contains(string(res.PiecesImagesMap()), `"TwoPiece"`) {
		t.Errorf("TwoPiece missing from PIECES_IMAGES_MAP: %s", res.PiecesImagesMap())
	}
}

func noVersionRepo(t *testing.T) string {
	files := validFiles()
	files["config.toml"] = "[repository]\nREGISTRY_NAME = \"owner\"\nREPOSITORY_NAME = \"repo\"\n"
	return miniRepo(t, files)
}

// A missing VERSION is a warning, as Domino prints it, when --version-tag
// gives the tags their version.
func TestMissingVersionWarns(t *testing.T) {
	var logs bytes.Buffer
	ctx := logctx.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	in := Input{Request: plan.Request{Version: "dev"}, Settings: Settings{NoSchemas: true}}
	_, res, err := Load(ctx, noVersionRepo(t), in)
	if err != nil {
		t.Fatalf("a missing VERSION with --version-tag is refused: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "Missing required fields: VERSION") {
		t.Errorf("no warning as Domino prints it:\n%s", logs.String())
	}
	if res.Groups[0].Image != "ghcr.io/owner/repo:dev-group0" {
		t.Errorf("image %s, want the --version-tag tag", res.Groups[0].Image)
	}
}

// When something needs the version, the error says what.
func TestMissingVersionNeeded(t *testing.T) {
	_, _, err := Load(context.Background(), noVersionRepo(t), Input{Settings: Settings{NoSchemas: true}})
	if err == nil || !strings.Contains(err.Error(), "lacks VERSION, and the image tags") || !strings.Contains(err.Error(), "--version-tag") {
		t.Errorf("want an error naming the image tags as needing VERSION, got %v", err)
	}
	err = WriteReleaseArchive(noVersionRepo(t), "", filepath.Join(t.TempDir(), "r.tar.gz"))
	if err == nil || !strings.Contains(err.Error(), "lacks VERSION, and the release archive") {
		t.Errorf("want an error naming the release archive as needing VERSION, got %v", err)
	}
}
