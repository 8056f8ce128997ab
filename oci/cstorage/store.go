//go:build cgo

package cstorage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/assemble-build/assemble/internal/ctxio"
	"github.com/assemble-build/assemble/oci/cstorage/internal/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/reexec"
	"go.podman.io/storage/pkg/unshare"
)

// errNeedsCgo is nil: this build has cgo (see store_nocgo.go).
var errNeedsCgo error

var initCalled atomic.Bool

// Init runs the storage library's helper when the process was re-executed
// as one (it then returns true and main must return). Call it first in main.
func Init() bool {
	initCalled.Store(true)
	return reexec.Init()
}

// EnterUserNamespace re-executes the program in a user namespace when it is
// run by a non-root user, mapping the ranges of /etc/subuid and /etc/subgid
// like podman, and exits with the child's status. Root is left alone. Call
// it early in main, before starting work, and only when writing to
// containers-storage.
func EnterUserNamespace() {
	unshare.MaybeReexecUsingUserNamespace(false)
}

// Write stores img in containers-storage under ref and returns its image ID
// (the config digest, as podman shows it). The manifest is stored as is, so
// the image's digest in podman is img.Digest(). Layers the store already has
// are not written again; a name held by another image moves to this one.
func Write(ctx context.Context, ref string, img v1.Image, opts ...Option) (v1.Hash, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r, err := ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if !initCalled.Load() {
		return v1.Hash{}, errors.New("writing to containers-storage: cstorage.Init() was not called at the start of main; the storage library needs it to extract layers")
	}
	if os.Geteuid() != 0 {
		return v1.Hash{}, errors.New("writing to containers-storage as a non-root user needs a user namespace: call cstorage.EnterUserNamespace() at the start of the program, or run it under `podman unshare`")
	}
	store, err := openStore(o, r)
	if err != nil {
		return v1.Hash{}, err
	}
	defer func() { _, _ = store.Shutdown(false) }()
	return write(ctx, store, r.Name, img)
}

func openStore(o options, r Reference) (storage.Store, error) {
	so, err := storage.DefaultStoreOptions()
	if err != nil {
		return nil, fmt.Errorf("reading containers-storage configuration: %w", err)
	}
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	so.GraphRoot = pick(o.root, pick(r.Root, so.GraphRoot))
	so.RunRoot = pick(o.runRoot, pick(r.RunRoot, so.RunRoot))
	so.GraphDriverName = pick(o.driver, pick(r.Driver, so.GraphDriverName))
	so.GraphDriverOptions = append(so.GraphDriverOptions, o.driverOpts...)
	if so.GraphDriverName == "btrfs" {
		// Linking it would make every build need the libbtrfs C headers
		// (see internal/storage/FORK.md).
		return nil, fmt.Errorf("containers-storage at %s uses the btrfs driver, which assemble leaves out: write to a store with the overlay or vfs driver, or write an oci: output and copy it in with skopeo", so.GraphRoot)
	}
	store, err := storage.GetStore(so)
	if err != nil {
		return nil, fmt.Errorf("opening containers-storage at %s (driver %q): %w", so.GraphRoot, so.GraphDriverName, err)
	}
	return store, nil
}

func write(ctx context.Context, store storage.Store, imageName string, img v1.Image) (v1.Hash, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading manifest: %w", err)
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("digesting manifest: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading config: %w", err)
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("digesting config: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parsing config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading layers: %w", err)
	}

	parent := ""
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return v1.Hash{}, err
		}
		id, err := putLayer(ctx, store, parent, l)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("layer %d: %w", i+1, err)
		}
		parent = id
	}

	// containers/image names images by config digest and records the
	// manifest under both "manifest-<digest>" and "manifest".
	imageID := configDigest.Hex
	md := digest.Digest(manifestDigest.String())
	bigData := []storage.ImageBigDataOption{
		{Key: configDigest.String(), Data: rawConfig, Digest: digest.Digest(configDigest.String())},
		{Key: storage.ImageDigestManifestBigDataNamePrefix + "-" + md.String(), Data: rawManifest, Digest: md},
		{Key: storage.ImageDigestBigDataKey, Data: rawManifest, Digest: md},
	}
	iopts := &storage.ImageOptions{BigData: bigData, Digests: []digest.Digest{md}}
	if !cf.Created.IsZero() {
		iopts.CreationDate = cf.Created.UTC()
	}
	si, err := store.CreateImage(imageID, nil, parent, "", iopts)
	switch {
	case errors.Is(err, storage.ErrDuplicateID):
		si, err = store.Image(imageID)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("reading existing image %s: %w", imageID, err)
		}
		if si.TopLayer != parent {
			return v1.Hash{}, fmt.Errorf("image %s already exists in containers-storage with other layers; remove it (podman rmi %s) and write again", imageID, imageID[:12])
		}
		for _, b := range bigData {
			if err := store.SetImageBigData(imageID, b.Key, b.Data, digestOf); err != nil {
				return v1.Hash{}, fmt.Errorf("updating image %s: %w", imageID, err)
			}
		}
	case err != nil:
		return v1.Hash{}, fmt.Errorf("creating image %s: %w", imageID, err)
	}
	if err := store.AddNames(si.ID, []string{imageName}); err != nil {
		return v1.Hash{}, fmt.Errorf("naming image %s %s: %w", imageID, imageName, err)
	}
	return configDigest, nil
}

// digestOf is how the store digests manifests it is given (not schema 1,
// which this package never writes).
func digestOf(b []byte) (digest.Digest, error) { return digest.FromBytes(b), nil }

// putLayer stores l on parent unless the store has it, and returns its ID.
// IDs are chain IDs, as containers/image computes them, so layers written
// by podman, skopeo and this package are shared.
func putLayer(ctx context.Context, store storage.Store, parent string, l v1.Layer) (string, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return "", fmt.Errorf("reading diffID: %w", err)
	}
	blobDigest, err := l.Digest()
	if err != nil {
		return "", fmt.Errorf("reading digest: %w", err)
	}
	id := diffID.Hex
	if parent != "" {
		id = digest.Canonical.FromString(parent + "+" + diffID.Hex).Encoded()
	}
	if existing, err := store.Layer(id); err == nil && existing.UncompressedDigest == digest.Digest(diffID.String()) {
		return id, nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", blobDigest, err)
	}
	defer rc.Close()
	// The store computes both digests of what it reads; they are checked
	// below rather than handed to it, which it would trust.
	layer, _, err := store.PutLayer(id, parent, nil, "", false, nil, ctxio.Reader(ctx, rc))
	if errors.Is(err, storage.ErrDuplicateID) {
		return id, nil // written meanwhile by another process
	}
	if err != nil {
		return "", fmt.Errorf("storing %s: %w", blobDigest, err)
	}
	if layer.UncompressedDigest != digest.Digest(diffID.String()) || layer.CompressedDigest != digest.Digest(blobDigest.String()) {
		_ = store.DeleteLayer(id)
		return "", fmt.Errorf("layer %s does not match its digests: read %s (diffID %s), want %s (diffID %s)",
			blobDigest, layer.CompressedDigest, layer.UncompressedDigest, blobDigest, diffID)
	}
	return id, nil
}
