// Package redact keeps credentials out of logs, messages and images. Each
// function is one policy; callers pick by what the text is for.
package redact

import (
	"net/url"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// harmlessQuery are query keys that carry no secrets (OCI distribution API
// and token service parameters). Everything else (upload state, signed URL
// signatures, tokens) is redacted by URL.
var harmlessQuery = map[string]bool{
	"digest": true, "mount": true, "from": true, "origin": true, "n": true, "last": true,
	"service": true, "scope": true, "account": true, "tag": true, "artifactType": true,
}

// URL renders u for logs: without user info, and with query values other
// than harmless ones replaced by "REDACTED".
func URL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			if !harmlessQuery[k] {
				q[k] = []string{"REDACTED"}
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// Userinfo drops the user info from a URL (a git remote): credentials must
// never reach an image. Text that is not a URL with user info is returned
// as it is.
func Userinfo(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// Password hides the password of a URL as pip does ("user:****@host"), or
// the user name when it stands alone (it is then usually a token:
// "****@host"). Text that is not a URL with user info is returned as it is.
func Password(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "****")
	} else {
		u.User = url.User("****")
	}
	return u.String()
}

var redactions = []struct {
	re   *lazyregexp.Regexp
	with string
}{
	// Header lines in request/response dumps.
	{lazyregexp.New(`(?im)^((?:proxy-)?authorization|cookie|set-cookie|x-amz-security-token|x-registry-auth|x-auth-token):[^\r\n]*`), "$1: <redacted>"},
	// Credentials anywhere else, e.g. in an error text.
	{lazyregexp.New(`(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{4,}`), "$1 <redacted>"},
	// Token responses and auth files.
	{lazyregexp.New(`(?i)"(token|access_token|refresh_token|password|identitytoken|registrytoken|auth|secret)"\s*:\s*"[^"]*"`), `"$1":"<redacted>"`},
	// Query parameters of upload sessions, signed blob URLs and token requests.
	{lazyregexp.New(`(?i)([?&](?:_state|x-amz-[a-z-]+|sig|signature|se|token|access_token|refresh_token|password|code)=)[^&\s"]*`), "${1}REDACTED"},
	// User info in URLs.
	{lazyregexp.New(`(?i)(https?://)[^/@\s]+@`), "${1}<redacted>@"},
	// Form bodies of OAuth2 token requests.
	{lazyregexp.New(`(?i)\b(password|refresh_token|access_token)=[^&\s]*`), "$1=<redacted>"},
}

// Text redacts credentials anywhere in free text: HTTP dumps (headers,
// token responses, form bodies), error messages and URLs within them.
func Text(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// uploadURL matches the URL of a blob upload session: its path names the
// session and its query carries the registry's state (_state), which let
// anyone holding them write to the upload. Group 2 is what follows it.
var uploadURL = lazyregexp.New(`(https?://[^/\s"]+/v2/[^\s"]*?/blobs/uploads/)[^\s"]*?(:?(?:[\s"]|$))`)

// Message redacts an error message for a user: credentials as Text does,
// and upload session URLs cut to the repository's upload endpoint.
func Message(s string) string {
	return Text(uploadURL.ReplaceAllString(s, "${1}$2"))
}
