package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/assemble-build/assemble/oci/ocitest"
)

type fixedKeychain struct{ user, pass string }

func (k fixedKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
}

// The command line's side defaults (--src-creds, --dest-creds) serve
// repositories without an auth entry; an entry with credentials wins.
func TestSideDefaults(t *testing.T) {
	src := ocitest.StartInProcess(t)
	dst := ocitest.StartInProcess(t)
	want := push(t, src.Host+"/ns/img:1", ocitest.Image(t, 1, 1, 256, ocitest.AMD64))
	src.RequireBasicAuth("s", "src-pass")
	dst.RequireBasicAuth("d", "dst-pass")
	dir := t.TempDir()
	images := writeFile(t, dir, "images.yaml", src.Host+"/ns/img:1: "+dst.Host+"/ns/img\n")
	run := func(auth string, opts ...Option) (*Summary, error) {
		cfg, err := LoadConfig(auth, images)
		if err != nil {
			t.Fatal(err)
		}
		return Run(context.Background(), cfg, append(opts, WithRetries(0))...)
	}
	srcOK := WithSourceDefaults(SideDefaults{Keychain: fixedKeychain{"s", "src-pass"}})
	dstOK := WithDestinationDefaults(SideDefaults{Keychain: fixedKeychain{"d", "dst-pass"}})

	if _, err := run("", srcOK); err == nil || !strings.Contains(err.Error(), "no auth entry matches") {
		t.Fatalf("destination without credentials: %v", err)
	}
	// Source credentials are not the destination's.
	_, err := run("", srcOK, WithDestinationDefaults(SideDefaults{Keychain: fixedKeychain{"s", "src-pass"}}))
	if err == nil || !strings.Contains(err.Error(), "--dest-creds") {
		t.Fatalf("wrong destination credentials: %v", err)
	}
	if sum, err := run("", srcOK, dstOK); err != nil || sum.Copied != 1 {
		t.Fatalf("with both sides' credentials: %v %+v", err, sum)
	}
	// An auth entry's credentials win over a wrong side default.
	auth := writeFile(t, dir, "auth.yaml", dst.Host+":\n  username: d\n  password: dst-pass\n")
	wrong := WithDestinationDefaults(SideDefaults{Keychain: fixedKeychain{"d", "nope"}})
	if sum, err := run(auth, srcOK, wrong, WithForce(true)); err != nil || sum.Copied != 1 {
		t.Fatalf("auth entry beside a wrong default: %v %+v", err, sum)
	}
	if d, ok := headDigest(t, dst.Direct+"/ns/img:1"); !ok || d != want {
		t.Errorf("destination has %s, want %s", d, want)
	}
}
