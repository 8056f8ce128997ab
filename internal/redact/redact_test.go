package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	dump := "GET /v2/ HTTP/1.1\r\nHost: r.example\r\nAuthorization: Basic " + secret + "\r\n\r\n" +
		`{"token":"tok123","access_token":"tok456"}` + "\n" +
		"PUT https://r.example/v2/a/blobs/uploads/1?_state=abc&digest=sha256:00 \n" +
		"error: Bearer eyJhbGciOi.xyz at https://alice:s3cret@r.example/v2/\n" +
		"grant_type=password&password=s3cret&username=alice"
	got := Text(dump)
	for _, leak := range []string{secret, "tok123", "tok456", "_state=abc", "eyJhbGciOi", "s3cret"} {
		if strings.Contains(got, leak) {
			t.Errorf("redacted text still contains %q:\n%s", leak, got)
		}
	}
	if !strings.Contains(got, "digest=sha256:00") {
		t.Errorf("digest query redacted:\n%s", got)
	}
}

func TestURL(t *testing.T) {
	u, _ := url.Parse("https://bob:pw@r.example/v2/a/blobs/uploads/1?_state=xyz&digest=sha256:11&X-Amz-Signature=sig")
	r := URL(u)
	if strings.Contains(r, "pw") || strings.Contains(r, "xyz") || strings.Contains(r, "=sig") || !strings.Contains(r, "sha256%3A11") {
		t.Errorf("URL = %s", r)
	}
	if URL(nil) != "" {
		t.Error("URL(nil)")
	}
}

func TestUserinfoAndPassword(t *testing.T) {
	for in, want := range map[string]string{
		"https://tok:x-oauth@github.com/o/r.git": "https://github.com/o/r.git",
		"https://github.com/o/r.git":             "https://github.com/o/r.git",
		"git@github.com:o/r.git":                 "git@github.com:o/r.git",
	} {
		if got := Userinfo(in); got != want {
			t.Errorf("Userinfo(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"https://alice:s3cret@pypi.example/simple": "https://alice:%2A%2A%2A%2A@pypi.example/simple",
		"https://tok@pypi.example/simple":          "https://%2A%2A%2A%2A@pypi.example/simple",
		"https://pypi.example/simple":              "https://pypi.example/simple",
	} {
		if got := Password(in); got != want {
			t.Errorf("Password(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMessage(t *testing.T) {
	cases := map[string]string{
		`PUT https://reg.example:5000/v2/ns/app/blobs/uploads/6f1c-aa?_state=c2VjcmV0&digest=sha256:abcd: unexpected status code 400`: `PUT https://reg.example:5000/v2/ns/app/blobs/uploads/: unexpected status code 400`,
		`Patch "http://127.0.0.1:5000/v2/app/blobs/uploads/uuid-1?_state=xyz": EOF`:                                                   `Patch "http://127.0.0.1:5000/v2/app/blobs/uploads/": EOF`,
		`at https://h/v2/a/b/blobs/uploads/s1`: `at https://h/v2/a/b/blobs/uploads/`,
		`GET https://h/v2/a/manifests/1: 404`:  `GET https://h/v2/a/manifests/1: 404`,
	}
	for in, want := range cases {
		if got := Message(in); got != want {
			t.Errorf("Message(%q) =\n %q, want\n %q", in, got, want)
		}
	}
}
