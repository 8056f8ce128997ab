package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assemble-build/assemble/oci/ocitest"
)

// The chunk flags' tests use a 1 MiB threshold and 256 KiB chunks.
const testChunk = 256 << 10

var chunkArgs = []string{"--chunk-threshold", "1MiB", "--chunk-size", "256KiB"}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "64MiB": 64 << 20, "64mib": 64 << 20, "1GiB": 1 << 30, "1G": 1 << 30,
		"256k": 256 << 10, "500MB": 500e6, "2 TiB": 2 << 40, "7B": 7,
	} {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "lots", "-1", "1.5GiB", "1iB", "1PiB", "99999999999TiB"} {
		if got, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", s, got)
		}
	}
}

func TestChunkFlagErrors(t *testing.T) {
	c := cliRun{}
	src, dst := "oci:"+t.TempDir()+":x", "oci:"+t.TempDir()+":y"
	for _, cmd := range [][]string{{"copy", src, dst}, {"build", "--push", "."}, {"sync", "--images", "none.yaml"}} {
		c.fails(t, `invalid argument "0" for "--chunk-size" flag: give a size over 0, such as 64MiB`, append(cmd, "--chunk-size", "0")...)
		c.fails(t, `invalid argument "lots" for "--chunk-threshold" flag: "lots" is not a size`, append(cmd, "--chunk-threshold", "lots")...)
	}
	help := c.must(t, "copy", "--help").stdout
	for _, want := range []string{"--chunk-threshold SIZE", "(default 1GiB)", "--chunk-size SIZE", "(default 64MiB)"} {
		if !strings.Contains(help, want) {
			t.Errorf("copy --help does not say %q:\n%s", want, help)
		}
	}
}

// bigSource pushes an image with one layer of about 1.3 MiB (6 chunks)
// and a small one to src, and returns its digest and the big layer.
func bigSource(t *testing.T, src *ocitest.Registry, repoTag string) (v1.Hash, v1.Descriptor) {
	t.Helper()
	img := ocitest.Append(t, ocitest.Image(t, 7, 1, 1<<20+300<<10, ocitest.AMD64), 8, 1, 1000)
	ref, err := name.ParseReference(src.Ref(repoTag))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return ocitest.Digest(t, img), m.Layers[0]
}

// dropThirdChunk makes reg drop the connection half-way through the
// third chunk, once.
func dropThirdChunk(reg *ocitest.Registry) {
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: func(r *http.Request) bool {
		return strings.HasPrefix(r.Header.Get("Content-Range"), strconv.Itoa(2*testChunk)+"-")
	}, DropAfter: testChunk / 2})
}

// checkResumed checks that the big layer went up in chunks, the third one
// twice (resumed at the registry's offset after the drop), and that the
// image at ref is whole: skopeo copies it, checking every blob's digest.
func checkResumed(t *testing.T, dst *ocitest.Registry, big v1.Descriptor, ref string, want v1.Hash) {
	t.Helper()
	if dst.PendingFaults() != 0 {
		t.Fatalf("the connection was never dropped\n%s", dst)
	}
	starts := slices.Insert(ocitest.ChunkOffsets(big.Size, testChunk), 3, 2*testChunk)
	if got := dst.ChunkStarts(); !slices.Equal(got, starts) {
		t.Errorf("chunk PATCHes at %v, want %v\n%s", got, starts, dst)
	}
	if n := dst.Count(ocitest.UploadStatus); n != 1 {
		t.Errorf("%d upload status requests, want 1\n%s", n, dst)
	}
	out, err := skopeoOut(t, nil, "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "dir:"+filepath.Join(t.TempDir(), "d"))
	if err != nil {
		t.Fatalf("skopeo copy %s: %v\n%s", ref, err, out)
	}
	if out, err := skopeoOut(t, nil, "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+ref); err != nil || strings.TrimSpace(out) != want.String() {
		t.Errorf("skopeo inspect %s: %q, %v; want %s", ref, out, err, want)
	}
}

// copy between registries with the chunk flags: the big layer goes in
// chunks and resumes after a dropped connection, reading the source again
// from the offset (a ranged GET answered 206), not from the start.
func TestCopyChunked(t *testing.T) {
	src, dst := ocitest.StartRegistry(t), ocitest.StartRegistry(t)
	want, big := bigSource(t, src, "ns/big:1")
	src.Reset()
	dropThirdChunk(dst)
	c := cliRun{env: noCredentialsEnv(t)}
	c.must(t, append([]string{"copy", "docker://" + src.Ref("ns/big:1"), "docker://" + dst.Ref("ns/copy:1")}, chunkArgs...)...)
	checkResumed(t, dst, big, dst.Ref("ns/copy:1"), want)
	var gets []int
	for _, q := range src.Requests() {
		if q.Kind == ocitest.BlobGet && q.Digest == big.Digest.String() {
			gets = append(gets, q.Status)
		}
	}
	if !slices.Equal(gets, []int{http.StatusOK, http.StatusPartialContent}) {
		t.Errorf("source reads of the big layer answered %v, want 200 then 206\n%s", gets, src)
	}

	// --chunk-threshold off: one PATCH per blob, as before.
	dst.Reset()
	c.must(t, "copy", "--chunk-threshold", "off", "docker://"+src.Ref("ns/big:1"), "docker://"+dst.Ref("ns/plain:1"))
	if n := len(dst.ChunkStarts()); n != 0 {
		t.Errorf("%d chunk PATCHes with --chunk-threshold off\n%s", n, dst)
	}
}

// sync with the chunk flags, through the same dropped connection.
func TestSyncChunkFlags(t *testing.T) {
	src, dst := ocitest.StartRegistry(t), ocitest.StartRegistry(t)
	want, big := bigSource(t, src, "ns/big:1")
	images := filepath.Join(t.TempDir(), "images.yaml")
	if err := os.WriteFile(images, []byte(src.Ref("ns/big:1")+": "+dst.Ref("mirror/big")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dropThirdChunk(dst)
	c := cliRun{env: noCredentialsEnv(t)}
	r := c.must(t, append([]string{"sync", "--images", images, "--retry-times", "0"}, chunkArgs...)...)
	if !strings.Contains(r.stdout, "1 copied") {
		t.Errorf("sync: %s", r.stdout)
	}
	checkResumed(t, dst, big, dst.Ref("mirror/big:1"), want)
}

// build --push with --chunk-threshold 0: every layer goes in chunks, the
// image's and its referrers' (SBOMs).
func TestBuildPushChunkFlags(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	c := cliRun{env: noCredentialsEnv(t)}
	ref := reg.Ref("ns/hello:1")
	c.must(t, "build", "../../testdata/hello", "--chunk-threshold", "0", "--chunk-size", "256KiB", "-o", "docker://"+ref)
	chunkedSession := map[string]bool{}
	chunked := map[string]bool{} // digests put after chunk PATCHes
	for _, q := range reg.Requests() {
		switch {
		case q.Kind == ocitest.UploadPatch && q.ContentRange != "":
			chunkedSession[q.Path] = true
		case q.Kind == ocitest.UploadPut && chunkedSession[q.Path]:
			chunked[q.Digest] = true
		}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if !chunked[l.Digest.String()] {
			t.Errorf("layer %s not uploaded in chunks\n%s", l.Digest, reg)
		}
	}
	if len(chunked) <= len(m.Layers) {
		t.Errorf("%d blobs uploaded in chunks, want the referrers' layers too\n%s", len(chunked), reg)
	}
}
