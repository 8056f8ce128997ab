package conda

import (
	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/internal/redact"
)

// binstarToken is an anaconda.org token path segment ("/t/<token>"), which
// conda strips from the URLs it records (remove_binstar_token).
var binstarToken = lazyregexp.New(`/t/[A-Za-z0-9_-]+(/|$)`)

// PublicURL is a channel or package URL as it may be written into an image
// or an SBOM: without user info and without an anaconda.org token, as conda
// records it in conda-meta.
func PublicURL(u string) string {
	return binstarToken.ReplaceAllString(redact.Userinfo(u), "$1")
}
