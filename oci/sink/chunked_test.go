package sink_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The chunked-upload tests use 1 MiB chunks and threshold, and layers of a
// few MB: the same code path as 64 MiB chunks of a 3 GB layer.
const chunk = 1 << 20

var smallChunks = sink.WithChunkedUpload(chunk, chunk)

// bigImage has one layer over the threshold (about 5 MB, 6 chunks) and
// one under it, which goes in one PATCH as before.
func bigImage(t *testing.T, seed int64) (v1.Image, v1.Descriptor) {
	t.Helper()
	img := ocitest.Image(t, seed, 1, 5<<20+chunk/3, amd64)
	img = ocitest.Append(t, img, seed+1, 1, 1000)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Layers[0].Size <= 5*chunk || m.Layers[0].Size >= 6*chunk {
		t.Fatalf("big layer has %d bytes, want 5-6 chunks", m.Layers[0].Size)
	}
	return img, m.Layers[0]
}

// rangeFrom matches chunk PATCHes whose Content-Range starts at off.
func rangeFrom(off int64) func(*http.Request) bool {
	p := strconv.FormatInt(off, 10) + "-"
	return func(r *http.Request) bool { return strings.HasPrefix(r.Header.Get("Content-Range"), p) }
}

func chunked(r *http.Request) bool { return r.Header.Get("Content-Range") != "" }

// skopeoBlob fetches ref with skopeo (which checks every blob's digest)
// and returns the sha256 of the layer it stored for d.
func skopeoBlob(t *testing.T, ref string, d v1.Descriptor) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dir")
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+dir)
	f, err := os.Open(filepath.Join(dir, d.Digest.Hex))
	if err != nil {
		t.Fatalf("skopeo did not store layer %s: %v", d.Digest, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestChunkedUploadResumesAfterDroppedConnection(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	img, big := bigImage(t, 50)
	// The third chunk's connection dies half-way, once.
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: rangeFrom(2 * chunk), DropAfter: chunk / 2})
	prog := &recProgress{}
	ref := reg.Ref("ns/big:1")
	res := push(t, []sink.Item{{Name: ref, Image: img}}, smallChunks, sink.WithProgress(prog))

	if n := reg.PendingFaults(); n != 0 {
		t.Fatalf("the connection was never dropped\n%s", reg)
	}
	// Resumed at the registry's offset (2 MiB), not from 0: one PATCH more
	// than the chunks, the dropped one sent again.
	want := ocitest.ChunkOffsets(big.Size, chunk)
	want = slices.Insert(want, 3, 2*chunk)
	if got := reg.ChunkStarts(); !slices.Equal(got, want) {
		t.Errorf("chunk PATCHes at %v, want %v\n%s", got, want, reg)
	}
	if n := reg.Count(ocitest.UploadPatch); n != len(want)+2 {
		t.Errorf("%d PATCHes, want %d chunked + 2 (small layer, config)\n%s", n, len(want), reg)
	}
	if n := reg.Count(ocitest.UploadStatus); n != 1 {
		t.Errorf("%d upload status requests, want 1\n%s", n, reg)
	}
	// One upload session per blob: nothing started again.
	if n, c := reg.Count(ocitest.UploadStart), reg.Count(ocitest.UploadCancel); n != 3 || c != 0 {
		t.Errorf("%d uploads started, %d cancelled; want 3 and 0\n%s", n, c, reg)
	}
	if got := pulled(t, ref); got != res[0].Digest {
		t.Errorf("registry has %s, pushed %s", got, res[0].Digest)
	}
	if got := skopeoBlob(t, ref, big); got != big.Digest.Hex {
		t.Errorf("skopeo fetched layer %s with sha256 %s", big.Digest, got)
	}
	// Progress counts each byte once, resume or not.
	prog.check(t, img)
}

func TestChunkedUploadStartsAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(big v1.Descriptor) ocitest.Fault
	}{
		{"registry lost the upload", func(v1.Descriptor) ocitest.Fault {
			return ocitest.Fault{Kind: ocitest.UploadStatus, Status: http.StatusNotFound,
				Body: `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}`}
		}},
		{"resumed upload corrupt", func(big v1.Descriptor) ocitest.Fault {
			// As docker-registry when a failed PATCH left bytes it had not counted.
			return ocitest.Fault{Kind: ocitest.UploadPut, When: func(r *http.Request) bool { return r.URL.Query().Get("digest") == big.Digest.String() },
				Status: http.StatusBadRequest, Body: `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}`}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := ocitest.StartRegistry(t)
			img, big := bigImage(t, 60)
			reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: rangeFrom(2 * chunk), DropAfter: chunk / 2})
			reg.Inject(tc.fault(big))
			ref := reg.Ref("ns/again:1")
			res := push(t, []sink.Item{{Name: ref, Image: img}}, smallChunks)
			if n := reg.PendingFaults(); n != 0 {
				t.Fatalf("%d faults did not fire\n%s", n, reg)
			}
			if n := reg.Count(ocitest.UploadStart); n != 4 {
				t.Errorf("%d uploads started, want 4 (the big layer twice)\n%s", n, reg)
			}
			if got := pulled(t, ref); got != res[0].Digest {
				t.Errorf("registry has %s, pushed %s", got, res[0].Digest)
			}
			if got := skopeoBlob(t, ref, big); got != big.Digest.Hex {
				t.Errorf("skopeo fetched layer %s with sha256 %s", big.Digest, got)
			}
		})
	}
}

func TestChunkedUploadFallsBackWhenRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		when     func(*http.Request) bool
		accepted int // chunks the registry took before refusing
	}{
		{"416 on the first chunk", http.StatusRequestedRangeNotSatisfiable, chunked, 0},
		{"400 on the first chunk", http.StatusBadRequest, chunked, 0},
		{"416 on a chunk in order", http.StatusRequestedRangeNotSatisfiable,
			func(r *http.Request) bool { return chunked(r) && !rangeFrom(0)(r) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := ocitest.StartRegistry(t)
			img, big := bigImage(t, 70)
			// A second large layer: the registry's refusal is remembered.
			img = ocitest.Append(t, img, 72, 1, 5<<20)
			reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: tc.when, Times: 100, Status: tc.status})
			ref := reg.Ref("ns/mono:1")
			res := push(t, []sink.Item{{Name: ref, Image: img}}, smallChunks, sink.WithJobs(1))
			if n := 100 - reg.PendingFaults(); n != 1 {
				t.Errorf("%d chunks refused, want 1\n%s", n, reg)
			}
			if n := len(reg.ChunkStarts()); n != tc.accepted+1 {
				t.Errorf("%d chunk PATCHes, want %d\n%s", n, tc.accepted+1, reg)
			}
			// The refused upload is cancelled; every blob then goes in one PATCH.
			if n := reg.Count(ocitest.UploadCancel); n != 1 {
				t.Errorf("%d uploads cancelled, want 1\n%s", n, reg)
			}
			if n := reg.Count(ocitest.UploadPatch) - len(reg.ChunkStarts()); n != 4 {
				t.Errorf("%d whole-blob PATCHes, want 4 (3 layers, config)\n%s", n, reg)
			}
			if got := pulled(t, ref); got != res[0].Digest {
				t.Errorf("registry has %s, pushed %s", got, res[0].Digest)
			}
			if got := skopeoBlob(t, ref, big); got != big.Digest.Hex {
				t.Errorf("skopeo fetched layer %s with sha256 %s", big.Digest, got)
			}
		})
	}
}

func TestChunkedUploadGivesUp(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	img, big := bigImage(t, 80)
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: rangeFrom(2 * chunk), DropAfter: chunk / 2, Times: 100})
	ref := reg.Ref("ns/fail:1")
	_, err := sink.Registry(fast, anonymous, smallChunks).Write(ctx, []sink.Item{{Name: ref, Image: img}})
	if err == nil {
		t.Fatal("push succeeded through a connection that always drops")
	}
	for _, want := range []string{big.Digest.String(), "gave up after 5 failed attempts", "2097152 of " + strconv.FormatInt(big.Size, 10) + " bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "_state=") && !strings.Contains(err.Error(), "_state=REDACTED") {
		t.Errorf("error shows the upload state: %v", err)
	}
	// Five tries of the failing chunk, the upload then cancelled.
	if n := 100 - reg.PendingFaults(); n != 5 {
		t.Errorf("failing chunk sent %d times, want 5\n%s", n, reg)
	}
	if n, m := reg.Count(ocitest.UploadCancel), reg.Count(ocitest.ManifestPut); n != 1 || m != 0 {
		t.Errorf("%d uploads cancelled and %d manifests put, want 1 and 0\n%s", n, m, reg)
	}
}

func TestChunkedUploadMountsAndThreshold(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	img, big := bigImage(t, 90)
	items := []sink.Item{{Name: reg.Ref("ns/one:1"), Image: img}, {Name: reg.Ref("ns/two:1"), Image: img}}
	push(t, items, smallChunks)
	// Sent once in chunks, mounted into the second repository.
	if got := reg.ChunkStarts(); !slices.Equal(got, ocitest.ChunkOffsets(big.Size, chunk)) {
		t.Errorf("chunk PATCHes at %v, want %v\n%s", got, ocitest.ChunkOffsets(big.Size, chunk), reg)
	}
	if !slices.Contains(reg.Mounted(), big.Digest.String()) {
		t.Errorf("big layer not mounted into the second repository\n%s", reg)
	}
	pulled(t, items[1].Name)

	// A negative threshold: no chunks, as ggcr alone uploads.
	reg.Reset()
	img2, _ := bigImage(t, 95)
	push(t, []sink.Item{{Name: reg.Ref("ns/three:1"), Image: img2}}, sink.WithChunkedUpload(-1, chunk))
	if n := len(reg.ChunkStarts()); n != 0 {
		t.Errorf("%d chunk PATCHes with chunks off\n%s", n, reg)
	}
}

type basicKeychain struct{ user, pass string }

func (k basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.pass}, nil
}

// docker-registry with htpasswd: chunks and the resume carry the
// credentials, and a push without them says how to log in.
func TestChunkedUploadWithCredentials(t *testing.T) {
	reg := ocitest.StartRegistry(t, ocitest.WithHtpasswd("bob", "chunk-pass"))
	img, big := bigImage(t, 100)
	// The anonymous push goes to a repository of its own: requests it
	// cancelled when it failed can reach the registry after Reset.
	anon := []sink.Item{{Name: reg.Ref("private/anon:1"), Image: img}}
	_, err := sink.Registry(fast, anonymous, smallChunks).Write(ctx, anon)
	if err == nil || !strings.Contains(err.Error(), "authentication required by "+reg.Host) {
		t.Errorf("anonymous chunked push: %v", err)
	}
	reg.Reset()
	items := []sink.Item{{Name: reg.Ref("private/big:1"), Image: img}}
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: rangeFrom(3 * chunk), DropAfter: chunk / 4})
	push(t, items, smallChunks, sink.WithKeychain(basicKeychain{"bob", "chunk-pass"}))
	want := slices.Insert(ocitest.ChunkOffsets(big.Size, chunk), 4, 3*chunk)
	if got := reg.ChunkStarts(); !slices.Equal(got, want) {
		t.Errorf("chunk PATCHes at %v, want %v\n%s", got, want, reg)
	}
	for _, q := range reg.Requests() {
		// The ping's 401 is the challenge; every other request has credentials.
		if q.Status == http.StatusUnauthorized && q.Kind != ocitest.Ping && q.Repo != "private/anon" {
			t.Errorf("%s %s refused: credentials not sent\n%s", q.Method, q.Path, reg)
		}
	}
}
