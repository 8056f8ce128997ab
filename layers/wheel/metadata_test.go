package wheel

import (
	"reflect"
	"testing"
)

// The license fields of core metadata are read as written, for the SBOM:
// License-Expression, License (continuation lines and all) and, of the
// classifiers, the License :: ones.
func TestParseMetadataLicense(t *testing.T) {
	m, err := ParseMetadata([]byte(`Metadata-Version: 2.4
Name: demo
Version: 1.0
License-Expression: MIT OR Apache-2.0
License: Copyright (c) the authors.
        All rights reserved.
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: MIT License
Classifier: License :: OSI Approved :: Apache Software License

The description.
`))
	if err != nil {
		t.Fatal(err)
	}
	if m.LicenseExpression != "MIT OR Apache-2.0" || m.License != "Copyright (c) the authors.\n        All rights reserved." ||
		!reflect.DeepEqual(m.LicenseClassifiers, []string{"License :: OSI Approved :: MIT License", "License :: OSI Approved :: Apache Software License"}) {
		t.Errorf("license fields: %q, %q, %q", m.LicenseExpression, m.License, m.LicenseClassifiers)
	}
}
