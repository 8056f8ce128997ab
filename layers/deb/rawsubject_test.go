package deb

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// The subject is read without x509.ParseCertificate, which refuses a
// certificate with a negative serial number (bullseye's EC-ACC), so that
// ca-certificates of every Debian release installs.
func TestRawSubjectNegativeSerial(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x42), Subject: pkix.Name{CommonName: "EC-ACC", Organization: []string{"Agencia Catalana"}},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// Make the serial negative: its INTEGER's one content byte, 0x42, becomes 0xc2.
	i := bytes.Index(der, []byte{0x02, 0x01, 0x42})
	if i < 0 {
		t.Fatal("serial not found")
	}
	neg := bytes.Clone(der)
	neg[i+2] = 0xc2
	if _, err := x509.ParseCertificate(neg); err == nil {
		t.Log("this Go accepts negative serial numbers")
	}
	got, err := rawSubject(neg)
	if err != nil || !bytes.Equal(got, cert.RawSubject) {
		t.Fatalf("rawSubject: %x, %v; want %x", got, err, cert.RawSubject)
	}
	h1, err := subjectHash(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := subjectHash(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: neg}))
	if err != nil || h1 != h2 || len(h1) != 8 {
		t.Errorf("hashes %q %q %v", h1, h2, err)
	}
}
