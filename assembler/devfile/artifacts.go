package devfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/atomicfile"
)

// Media types of devfile registry artifacts (registry-support's index
// server, constants.go).
const (
	ConfigMediaType  = "application/vnd.devfileio.devfile.config.v2+json"
	DevfileMediaType = "application/vnd.devfileio.devfile.layer.v1"
	ArchiveMediaType = "application/x-tar"
	SVGMediaType     = "image/svg+xml"
	PNGMediaType     = "image/png"
	VSXMediaType     = "application/vnd.devfileio.vsx.layer.v1.tar"
)

// mediaType returns the media type the index server pushes a resource
// with; skip is true for files it leaves out.
func mediaType(name string) (mt string, skip bool, err error) {
	switch {
	case name == DevfileName || name == HiddenDevfileName:
		return DevfileMediaType, false, nil
	case name == ArchiveName:
		return ArchiveMediaType, false, nil
	case name == "logo.svg":
		return SVGMediaType, false, nil
	case name == "logo.png":
		return PNGMediaType, false, nil
	case name == metaFile || strings.HasSuffix(name, "-offline.zip"):
		return "", true, nil
	case strings.HasSuffix(name, ".vsx"):
		// The server means this type but looks it up under the wrong key, so
		// its own push fails; clients that pull all types accept it.
		return VSXMediaType, false, nil
	}
	return "", false, fmt.Errorf("the devfile registry has no media type for %s and cannot push it: %s and lists it among the resources, "+
		"but the index server pushes only the files it has a media type for and fails on this one, so assemble cannot push it either: remove it, or rename it -offline.zip if it is an offline bundle", name, generatorAccepts)
}

// artifacts makes one artifact per stack version, named
// <prefix>/devfile-catalog/<stack> and tagged with the version: the
// reference links.self gives clients.
func (r *registry) artifacts(prefix string) []plan.Artifact {
	var out []plan.Artifact
	for _, st := range r.stacks {
		name := catalogPrefix + "/" + st.dir
		if prefix != "" {
			name = strings.TrimSuffix(prefix, "/") + "/" + name
		}
		for _, v := range st.versions {
			a := plan.Artifact{
				Name:            name,
				Tags:            []string{v.info.Version},
				ConfigMediaType: ConfigMediaType,
				Config:          []byte("{}"),
				Packing:         plan.PackingORASv1,
				Source:          v.rel + "/" + v.devfile,
			}
			for _, res := range v.resources {
				mt, skip, err := mediaType(res)
				if err != nil || skip { // errors were reported when the files were read
					continue
				}
				l := plan.ArtifactLayer{MediaType: mt, Title: res}
				if res == ArchiveName {
					l.Content = v.archive
				} else {
					l.Path = v.rel + "/" + res
				}
				a.Layers = append(a.Layers, l)
			}
			out = append(out, a)
		}
	}
	return out
}

// outputMarker marks an output directory as this package's.
const outputMarker = ".assemble-devfile-output"

// writeBuilt writes what the registry build adds to a repository, index.json
// and each version's archive.tar, under dir (replacing earlier ones).
//
// Only a stacks/ that this package wrote (the directory holds its marker
// file) is replaced, so a mistaken output directory loses nothing.
func (r *registry) writeBuilt(dir string, index []byte) error {
	stacks := filepath.Join(dir, StacksDir)
	if exists(stacks) && !exists(filepath.Join(dir, outputMarker)) {
		return fmt.Errorf("output directory %s already holds a stacks/ that assemble did not write: choose another directory, or remove it", dir)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, outputMarker), []byte("written by assemble: index.json and stacks/ here are replaced on every run\n")); err != nil {
		return err
	}
	if err := os.RemoveAll(stacks); err != nil {
		return fmt.Errorf("cleaning %s: %w", stacks, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, IndexFile), index); err != nil {
		return err
	}
	for _, st := range r.stacks {
		for _, v := range st.versions {
			if v.archive == nil {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(v.rel), ArchiveName)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
			}
			if err := atomicfile.WriteFile(p, v.archive); err != nil {
				return err
			}
		}
	}
	return nil
}
