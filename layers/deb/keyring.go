package deb

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SystemKeyring is Debian's archive keyring as the debian-archive-keyring
// package installs it. It is used when present and no keyring is given.
const SystemKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// embeddedKeyring is a copy of SystemKeyring from debian-archive-keyring
// 2023.3+deb12u2 (bookworm): the bullseye, bookworm and trixie archive and
// release keys. It is the fallback on machines without that package.
//
//go:embed keyring/debian-archive-keyring.gpg
var embeddedKeyring []byte

// keyring is an OpenPGP keyring whose keys are read when a signature names
// them. Reading a key checks its self-signatures, and Debian's keyring holds
// nine RSA-4096 keys where a Release is signed by two or three: reading
// them all took 15 ms of every build with a Debian base, most of an offline
// rebuild's own work. A signature is checked against the keys that carry its
// issuer's ID and nothing else, so the verdicts are the whole keyring's.
// Not for concurrent use.
type keyring struct {
	name     string
	entities [][]*packet.OpaquePacket // each key's packets, as in the file
	byID     map[uint64][]int         // a primary key's or subkey's ID: the entities that hold it
	read     map[int]openpgp.EntityList
}

// OpenPGP packet tags (RFC 9580, section 5): a key's packets run from its
// primary key to the next one.
const (
	tagSecretKey    = 5
	tagPublicKey    = 6
	tagSecretSubkey = 7
	tagPublicSubkey = 14
)

// loadKeyring reads an OpenPGP keyring, binary (.gpg) or ASCII-armoured
// (.asc), as far as telling its keys apart; the keys themselves are read
// by keysFor.
func loadKeyring(path string) (*keyring, error) {
	var data []byte
	name := path
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading keyring: %w", err)
		}
		data = b
	default:
		if b, err := os.ReadFile(SystemKeyring); err == nil {
			data, name = b, SystemKeyring
		} else {
			data, name = embeddedKeyring, "built-in Debian archive keyring"
		}
	}
	return parseKeyring(data, name)
}

func parseKeyring(data []byte, name string) (*keyring, error) {
	var r io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(r)
		if err != nil {
			return nil, fmt.Errorf("reading keyring %s: %w", name, err)
		}
		if blk.Type != openpgp.PublicKeyType && blk.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("reading keyring %s: expected a public or private key block, found %q", name, blk.Type)
		}
		r = blk.Body
	}
	k := &keyring{name: name, byID: map[uint64][]int{}, read: map[int]openpgp.EntityList{}}
	pr := packet.NewOpaqueReader(r)
	for {
		op, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading keyring %s: %w", name, err)
		}
		if op.Tag == tagPublicKey || op.Tag == tagSecretKey {
			k.entities = append(k.entities, nil)
		}
		if len(k.entities) == 0 {
			return nil, fmt.Errorf("reading keyring %s: it does not start with a key", name)
		}
		i := len(k.entities) - 1
		k.entities[i] = append(k.entities[i], op)
		if id, ok := keyID(op); ok {
			k.byID[id] = append(k.byID[id], i)
		}
	}
	if len(k.entities) == 0 {
		return nil, fmt.Errorf("keyring %s holds no keys", name)
	}
	return k, nil
}

// keyID is the ID of a key or subkey packet. A key that cannot be parsed
// has none: no signature finds it, as reading the keyring would skip it.
func keyID(op *packet.OpaquePacket) (uint64, bool) {
	switch op.Tag {
	case tagPublicKey, tagPublicSubkey, tagSecretKey, tagSecretSubkey:
	default:
		return 0, false
	}
	p, err := op.Parse()
	if err != nil {
		return 0, false
	}
	switch k := p.(type) {
	case *packet.PublicKey:
		return k.KeyId, true
	case *packet.PrivateKey:
		return k.KeyId, true
	}
	return 0, false
}

// keysFor reads the keys that hold the key ID id, each once, checking their
// self-signatures as reading the whole keyring does. A key that does not
// read is skipped, as there.
func (k *keyring) keysFor(id uint64) openpgp.EntityList {
	var list openpgp.EntityList
	for _, i := range k.byID[id] {
		es, ok := k.read[i]
		if !ok {
			var buf bytes.Buffer
			for _, op := range k.entities[i] {
				_ = op.Serialize(&buf) // a bytes.Buffer takes every write
			}
			es, _ = openpgp.ReadKeyRing(&buf)
			k.read[i] = es
		}
		list = append(list, es...)
	}
	return list
}

// verifyInRelease checks a clearsigned InRelease file and returns the signed
// text. Only the signed text is returned, so nothing outside the signature
// can be smuggled in.
func verifyInRelease(data []byte, keys *keyring) ([]byte, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, errors.New("not a clearsigned document")
	}
	sig, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, fmt.Errorf("reading signature: %w", err)
	}
	if err := verifyAny(keys, block.Bytes, sig); err != nil {
		return nil, err
	}
	return block.Plaintext, nil
}

// verifyDetached checks Release against Release.gpg (armoured or binary).
func verifyDetached(signed, signature []byte, keys *keyring) error {
	sig := signature
	if bytes.HasPrefix(bytes.TrimSpace(signature), []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(bytes.NewReader(signature))
		if err != nil {
			return fmt.Errorf("reading signature: %w", err)
		}
		if sig, err = io.ReadAll(blk.Body); err != nil {
			return fmt.Errorf("reading signature: %w", err)
		}
	}
	return verifyAny(keys, signed, sig)
}

// verifyAny accepts the signed data when any one of the signature packets
// (Debian signs with several keys) verifies with a key in the keyring. Each
// packet is tried on its own: go-crypto only checks the first signature whose
// issuer it knows, which fails if that one key has expired.
func verifyAny(keys *keyring, signed, sigs []byte) error {
	rd := packet.NewReader(bytes.NewReader(sigs))
	var errs []string
	n := 0
	for {
		p, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading signature packets: %w", err)
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			continue
		}
		n++
		var one bytes.Buffer
		if err := sig.Serialize(&one); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		var candidates openpgp.EntityList
		if sig.IssuerKeyId != nil {
			candidates = keys.keysFor(*sig.IssuerKeyId)
		}
		cfg := &packet.Config{Time: time.Now}
		_, _, err = openpgp.VerifyDetachedSignature(candidates, bytes.NewReader(signed), &one, cfg)
		if err == nil {
			return nil
		}
		id := "unknown key"
		if sig.IssuerKeyId != nil {
			id = fmt.Sprintf("key %016X", *sig.IssuerKeyId)
		}
		errs = append(errs, fmt.Sprintf("%s: %v", id, err))
	}
	if n == 0 {
		return errors.New("no signature found")
	}
	return fmt.Errorf("no valid signature from a key in the keyring (%s)", strings.Join(errs, "; "))
}
