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

// loadKeyring reads an OpenPGP keyring, binary (.gpg) or ASCII-armoured (.asc).
// path "" means SystemKeyring when present, else the embedded copy.
func loadKeyring(path string) (openpgp.EntityList, string, error) {
	var data []byte
	name := path
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("reading keyring: %w", err)
		}
		data = b
	default:
		if b, err := os.ReadFile(SystemKeyring); err == nil {
			data, name = b, SystemKeyring
		} else {
			data, name = embeddedKeyring, "built-in Debian archive keyring"
		}
	}
	var (
		keys openpgp.EntityList
		err  error
	)
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) {
		keys, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		keys, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading keyring %s: %w", name, err)
	}
	if len(keys) == 0 {
		return nil, "", fmt.Errorf("keyring %s holds no keys", name)
	}
	return keys, name, nil
}

// verifyInRelease checks a clearsigned InRelease file and returns the signed
// text. Only the signed text is returned, so nothing outside the signature
// can be smuggled in.
func verifyInRelease(data []byte, keys openpgp.EntityList) ([]byte, error) {
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
func verifyDetached(signed, signature []byte, keys openpgp.EntityList) error {
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
func verifyAny(keys openpgp.EntityList, signed, sigs []byte) error {
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
		cfg := &packet.Config{Time: time.Now}
		_, _, err = openpgp.VerifyDetachedSignature(keys, bytes.NewReader(signed), &one, cfg)
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
