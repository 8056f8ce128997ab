package explicit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, toml string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, FileName), []byte(toml), 0o644)
	return dir
}

func TestLoadFullExample(t *testing.T) {
	dir := write(t, `
[debian]
mirror = "http://mirror.example/debian"

[[image]]
name = "registry.example:5000/ns/app"
tags = ["1.0", "latest"]
base = "docker://debian:bookworm"
platforms = ["linux/amd64", "linux/arm64"]
[image.config]
env = { B = "2", A = "1" }
entrypoint = ["/app/run"]
ports = ["8080", "53/udp"]
[[image.layer]]
type = "deb"
packages = ["jq"]
apt = ["apt.txt"]
[[image.layer]]
type = "python"
requirements = ["requirements.txt"]
[[image.layer]]
dir = "app"
dest = "/app"
owner = "1000:100"
`, "apt.txt", "requirements.txt", "app/run")
	os.WriteFile(filepath.Join(dir, "apt.txt"), []byte("# tools\ncurl  # http\n\nca-certificates\n"), 0o644)
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	im := p.Images[0]
	if im.Name != "registry.example:5000/ns/app" || len(im.Tags) != 2 || len(im.Platforms) != 2 {
		t.Errorf("image: %+v", im)
	}
	if strings.Join(im.Config.Env, " ") != "A=1 B=2" {
		t.Errorf("env not sorted: %v", im.Config.Env)
	}
	if p.Debian == nil || p.Debian.Mirror != "http://mirror.example/debian" {
		t.Errorf("debian: %+v", p.Debian)
	}
	deb := im.Layers[0].Deb
	var names []string
	for _, pk := range deb.Packages {
		names = append(names, pk.Name)
	}
	if strings.Join(names, " ") != "jq curl ca-certificates" {
		t.Errorf("packages: %v", names)
	}
	if !strings.HasSuffix(deb.Packages[1].Where, "apt.txt:2") {
		t.Errorf("apt.txt line not recorded: %q", deb.Packages[1].Where)
	}
	f := im.Layers[2].Files
	if f.UID != 1000 || f.GID != 100 || f.Dest != "/app" {
		t.Errorf("files layer: %+v", f)
	}
	if !strings.HasSuffix(im.Layers[2].Source, "assemble.toml:21") {
		t.Errorf("layer source %q", im.Layers[2].Source)
	}
}

func TestLoadDefaults(t *testing.T) {
	p, err := Load(write(t, "[[image]]\nname = \"a\"\n[[image.layer]]\n"))
	if err != nil {
		t.Fatal(err)
	}
	im := p.Images[0]
	if im.Base != "scratch" || im.Tags[0] != "latest" || im.Layers[0].Files.Dir != "." || im.Layers[0].Files.Dest != "/" {
		t.Errorf("defaults: %+v %+v", im, im.Layers[0].Files)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]string{
		"[[image]]\nname = \"a\"\n[[image]]\nname = \"a\"\n":                             `assemble.toml:3: image name "a" is declared twice`,
		"[[image]]\nname = \"a\"\n[[image.layer]]\ntype = \"rpm\"\n":                     `unknown layer type "rpm"`,
		"[[image]]\nname = \"a\"\n[[image.layer]]\nowner = \"root\"\n":                   `owner "root": use numeric UID:GID`,
		"[[image]]\nname = \"a\"\n[[image.layer]]\ndest = \"app\"\n":                     `must be an absolute image path`,
		"[[image]]\nname = \"a\"\ntags = [\"no spaces\"]\n":                              `tag "no spaces" is not a valid tag`,
		"[[image]]\nname = \"a\"\n[image.config]\nports = [\"http\"]\n":                  `port "http"`,
		"[[image]]\nname = \"a\"\n[[image.layer]]\ntype = \"deb\"\n":                     `a deb layer needs packages`,
		"[[image]]\nname = \"a\"\n[[image.layer]]\ntype = \"python\"\ndir = \"x\"\n":     `belong to files layers`,
		"[[image]]\nname = \"a\"\n[[image.layer]]\ntype = \"deb\"\napt = [\"no.txt\"]\n": `reading no.txt`,
		"title = \"x\"\n":       `assemble.toml:1: unknown key "title"`,
		"[[image]]\nname = 3\n": `assemble.toml:2: name must be a string, not an integer`,
		// Type mismatches in the user's words, not Go's.
		"[[image]]\nname = \"a\"\ntags = \"latest\"\n":                     `assemble.toml:3: tags must be a list of strings, not a string`,
		"[[image]]\nname = \"a\"\ntags = [1]\n":                            `assemble.toml:3: tags must be a list of strings`,
		"[[image]]\nname = \"a\"\n[image.config]\nports = \"80\"\n":        `assemble.toml:4: ports must be a list of strings, not a string`,
		"[[image]]\nname = \"a\"\n[[image.layer]]\nignore_file = \"no\"\n": `assemble.toml:4: ignore_file must be true or false, not a string`,
		"image = \"a\"\n": `assemble.toml:1: image must be a list of tables`,
		"":                `no [[image]] table`,
	}
	for toml, want := range cases {
		_, err := Load(write(t, toml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", toml, err, want)
		}
	}
}
