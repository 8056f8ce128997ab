package assembler

import (
	"time"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/oci"
)

// repoAnnotations are the standard annotations every image gets: created
// time, and the git remote and revision when root is a git checkout.
func repoAnnotations(root string, created time.Time) map[string]string {
	a := map[string]string{oci.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	// Only a repository that is itself a git work tree: a directory inside
	// another project's checkout (a testdata repository) has no revision of its own.
	r := git.Describe(root)
	if r.Revision != "" {
		a[oci.AnnotationRevision] = r.Revision
		if r.Origin != "" {
			// Credentials must never reach an image.
			a[oci.AnnotationSource] = redact.Userinfo(r.Origin)
		}
	}
	return a
}
