package deb

import "testing"

// A deb layer estimates its size, for progress, as the sum of its packages'
// Installed-Size (KiB).
func TestLayerSpecSizeEstimate(t *testing.T) {
	s := &LayerSpec{pkgs: []*Package{{Name: "a", InstalledSize: 10}, {Name: "b", InstalledSize: 2}}}
	if got := s.SizeEstimate(); got != 12*1024 {
		t.Errorf("SizeEstimate = %d, want %d", got, 12*1024)
	}
}
