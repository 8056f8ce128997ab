package conda

import "testing"

func TestPublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://conda.anaconda.org/t/ab-12_cd/conda-forge/linux-64/x-1-0.conda": "https://conda.anaconda.org/conda-forge/linux-64/x-1-0.conda",
		"https://user:secret@mirror.example/conda-forge":                         "https://mirror.example/conda-forge",
		"https://mirror.example/t/tok":                                           "https://mirror.example",
		"https://conda.anaconda.org/conda-forge":                                 "https://conda.anaconda.org/conda-forge",
		"file:///srv/channel":                                                    "file:///srv/channel",
	} {
		if got := PublicURL(in); got != want {
			t.Errorf("PublicURL(%q) = %q, want %q", in, got, want)
		}
	}
}
