package deb

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// clearsigned is text clearsigned by signers, one signature each, as
// Debian signs a Release with several keys.
func clearsigned(t *testing.T, text string, signers ...*openpgp.Entity) []byte {
	t.Helper()
	var out bytes.Buffer
	keys := make([]*packet.PrivateKey, len(signers))
	for i, e := range signers {
		keys[i] = e.PrivateKey
	}
	w, err := clearsign.EncodeMulti(&out, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func keyringOf(t *testing.T, es ...*openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestKeyringReadsOnlyWhatASignatureNames: of a keyring of several keys, a
// signature's check reads the keys that carry its issuer's ID (all copies
// of one), and the verdicts are those of the whole keyring read at once.
func TestKeyringReadsOnlyWhatASignatureNames(t *testing.T) {
	a, b, c := newTestKey(t), newTestKey(t), newTestKey(t)
	const text = "Origin: Test\nCodename: test\n"
	signedByB := clearsigned(t, text, b)
	ring := keyringOf(t, a, b, c, b)

	k, err := parseKeyring(ring, "test keyring")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.entities) != 4 {
		t.Fatalf("%d keys told apart in a keyring of 4", len(k.entities))
	}
	got, err := verifyInRelease(signedByB, k)
	if err != nil {
		t.Fatalf("signed by a key in the keyring: %v", err)
	}
	if string(got) != text {
		t.Errorf("verified text %q, want %q", got, text)
	}
	if len(k.read) != 2 || k.read[1] == nil || k.read[3] == nil {
		t.Errorf("keys read: %v; want the signer's two copies (1 and 3) only", k.read)
	}

	// The same verdicts as the whole keyring read at once, for a signature
	// from a key it lacks and for altered text.
	tampered := bytes.Replace(signedByB, []byte("Codename: test"), []byte("Codename: evil"), 1)
	for _, tc := range []struct {
		name string
		doc  []byte
		ring []byte
	}{
		{"signed by b, keyring a c", signedByB, keyringOf(t, a, c)},
		{"altered after signing", tampered, ring},
		{"signed by b and a, keyring a c", clearsigned(t, text, b, a), keyringOf(t, a, c)},
	} {
		k, err := parseKeyring(tc.ring, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		_, errOurs := verifyInRelease(tc.doc, k)
		wholeRing, _ := openpgp.ReadKeyRing(bytes.NewReader(tc.ring))
		blk, _ := clearsign.Decode(tc.doc)
		_, errWhole := blk.VerifySignature(wholeRing, nil)
		if (errOurs == nil) != (errWhole == nil) {
			t.Errorf("%s: verdict %v, the whole keyring's %v", tc.name, errOurs, errWhole)
		}
	}
}

func TestKeyringFormats(t *testing.T) {
	e := newTestKey(t)
	bin := keyringOf(t, e)
	signed := clearsigned(t, "Codename: test\n", e)

	var asc bytes.Buffer
	w, err := armor.Encode(&asc, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bin)
	w.Close()
	k, err := parseKeyring(asc.Bytes(), "test.asc")
	if err != nil {
		t.Fatalf("armoured keyring: %v", err)
	}
	if _, err := verifyInRelease(signed, k); err != nil {
		t.Errorf("armoured keyring: %v", err)
	}

	var msg bytes.Buffer
	w, _ = armor.Encode(&msg, "PGP MESSAGE", nil)
	w.Write(bin)
	w.Close()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"message.asc", msg.Bytes(), "expected a public or private key block"},
		{"garbage.gpg", []byte("this is not a keyring\n"), "garbage.gpg"},
		{"empty.gpg", nil, "holds no keys"},
	} {
		_, err := parseKeyring(tc.data, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming the keyring and saying %q", tc.name, err, tc.want)
		}
	}
}
