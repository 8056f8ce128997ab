package assembler

import (
	"bytes"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/assemble-build/assemble/oci"
)

// A frozen image says what the image it froze says, byte for byte, and
// passes go-containerregistry's own consistency checks.
func TestFrozenImageIsTheImage(t *testing.T) {
	docker, err := random.Image(64, 3)
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(docker, types.OCIManifestSchema1), types.OCIConfigJSON)
	extra, err := random.Layer(64, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.Stack(base, []oci.Addition{{Layer: extra, CreatedBy: "test"}}, oci.Config{Env: []string{"A=1"}}, time.Unix(1, 0), map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	f := freeze(img)
	if _, ok := f.(*frozen); !ok {
		t.Fatalf("freeze returned a %T", f)
	}
	for _, i := range []v1.Image{img, f} {
		if err := validate.Image(i); err != nil {
			t.Fatal(err)
		}
	}
	same := func(what string, get func(v1.Image) ([]byte, error)) {
		t.Helper()
		a, err1 := get(img)
		b, err2 := get(f)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs (%v, %v)", what, err1, err2)
		}
	}
	same("manifest", v1.Image.RawManifest)
	same("config", v1.Image.RawConfigFile)
	hashes := func(ls []v1.Layer, err error) ([]byte, error) {
		var b bytes.Buffer
		for _, l := range ls {
			d, _ := l.Digest()
			b.WriteString(d.String())
		}
		return b.Bytes(), err
	}
	same("layers", func(i v1.Image) ([]byte, error) { return hashes(i.Layers()) })
	same("digest", func(i v1.Image) ([]byte, error) { d, err := i.Digest(); return []byte(d.String()), err })
	cn, _ := f.ConfigName()
	same("config layer", func(i v1.Image) ([]byte, error) {
		l, err := i.LayerByDigest(cn)
		if err != nil {
			return nil, err
		}
		return hashes([]v1.Layer{l}, nil)
	})
	if _, err := f.LayerByDigest(v1.Hash{Algorithm: "sha256", Hex: "00"}); err == nil {
		t.Error("a layer the image lacks was found")
	}
}
