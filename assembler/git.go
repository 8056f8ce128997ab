package assembler

import (
	"context"
	"time"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/oci"
)

// repoAnnotations are the standard annotations every image gets: created
// time, and the git remote and revision when root is a git checkout. The
// context returned asks git about a directory once for the build (see
// git.WithMemo): every files layer from root finds its work tree answered.
func repoAnnotations(ctx context.Context, root string, created time.Time) (context.Context, map[string]string) {
	ctx = git.WithMemo(ctx)
	a := map[string]string{oci.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	// Only a repository that is itself a git work tree: a directory inside
	// another project's checkout (a testdata repository) has no revision of its own.
	r := git.AskIn(ctx, root).Repo()
	if r.Revision != "" {
		a[oci.AnnotationRevision] = r.Revision
		if r.Origin != "" {
			// Credentials must never reach an image.
			a[oci.AnnotationSource] = redact.Userinfo(r.Origin)
		}
	}
	return ctx, a
}
