package remote

import (
	"strings"
	"testing"
)

func TestIsReferrersTag(t *testing.T) {
	hex := strings.Repeat("ab12", 16)
	for tag, want := range map[string]bool{
		"sha256-" + hex:                  true,
		"sha256-" + hex[1:]:              false,
		"sha256-" + strings.ToUpper(hex): false,
		"sha512-" + hex:                  false,
		"latest":                         false,
		"sha256-" + hex + ".sig":         false,
		"sha256-" + hex[:63] + "g":       false,
	} {
		if got := IsReferrersTag(tag); got != want {
			t.Errorf("IsReferrersTag(%q) = %v, want %v", tag, got, want)
		}
	}
}
