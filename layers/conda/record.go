package conda

// Record is one package as a channel's repodata.json describes it, and as a
// solution lists it. The resolver fills Channel, Subdir, Filename and URL when
// it reads the index; the installer needs nothing else to fetch, verify and
// unpack the package and to write its conda-meta record.
type Record struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Build       string   `json:"build"`
	BuildNumber int      `json:"build_number"`
	Depends     []string `json:"depends"`
	Constrains  []string `json:"constrains,omitempty"`
	// TrackFeatures is repodata's space- or comma-separated list.
	TrackFeatures string `json:"track_features,omitempty"`
	License       string `json:"license,omitempty"`
	// Noarch is "python", "generic" or empty.
	Noarch    string `json:"noarch,omitempty"`
	SHA256    string `json:"sha256"`
	MD5       string `json:"md5,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"`

	// Channel is the channel's canonical URL without the subdir
	// ("https://conda.anaconda.org/conda-forge").
	Channel string `json:"channel"`
	// Subdir is "linux-64", "noarch", ...
	Subdir string `json:"subdir"`
	// Filename is the package file ("zlib-1.3.1-h4ab18f5_1.conda").
	Filename string `json:"fn"`
	// URL is where the package file is fetched from.
	URL string `json:"url"`
}

// Solution is a resolved environment: records in install order (a package
// after everything it depends on), with the requested specs that led to it.
type Solution struct {
	Records []Record
	// Requested are the MatchSpecs as the user wrote them, for
	// conda-meta/history and each record's "requested_spec".
	Requested []string
}
