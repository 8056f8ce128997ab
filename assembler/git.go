package assembler

import (
	"context"
	"sync"
	"time"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/oci"
)

// repoAnnotations returns the standard annotations every image gets:
// created time, and the git remote and revision when root is a git
// checkout. Git is asked at once, and the function returned waits for its
// answers: the build's layers are read meanwhile. The context returned
// asks git about a directory once for the build (see git.WithMemo), so
// every files layer from root finds its work tree asked for already.
func repoAnnotations(ctx context.Context, root string, created time.Time) (context.Context, func() map[string]string) {
	ctx = git.WithMemo(ctx)
	facts := git.AskIn(ctx, root)
	return ctx, sync.OnceValue(func() map[string]string {
		a := map[string]string{oci.AnnotationCreated: created.UTC().Format(time.RFC3339)}
		// Only a repository that is itself a git work tree: a directory inside
		// another project's checkout (a testdata repository) has no revision of its own.
		r := facts.Repo()
		if r.Revision != "" {
			a[oci.AnnotationRevision] = r.Revision
			if r.Origin != "" {
				// Credentials must never reach an image.
				a[oci.AnnotationSource] = redact.Userinfo(r.Origin)
			}
		}
		return a
	})
}

// noAnnotations is for an image built as another's base (see
// services.Build), which carries none of its own.
func noAnnotations() map[string]string { return nil }
