package dockerfile

import (
	"context"
	"reflect"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

// BuildTarget names what went into the target's image: the image its chain
// of stages starts from, and the package installs of that chain only; a
// stage the target COPYs from, or that a build context replaces, adds none.
func TestBuildTargetOrigin(t *testing.T) {
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{"Dockerfile": `ARG BASE
FROM ${BASE} AS build
RUN apt-get install -y make
FROM build AS tools
RUN pip install six && apt-get install -y curl
FROM ${BASE} AS other
RUN apt-get install -y gcc
FROM tools AS final
COPY --from=other /etc/base-file /copied
RUN apt-get install -y jq
FROM scratch AS empty
COPY --from=tools /etc/base-file /copied
`})
	svc := newServices(t)
	baseImg, err := svc.Base(context.Background(), base, amd64())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := baseImg.Digest()
	target := func(name string, opts ...Option) *Target {
		t.Helper()
		opts = append(opts, WithTarget(name), WithBuildArgs(map[string]string{"BASE": base}))
		tg, err := BuildTarget(context.Background(), dir, plan.Dockerfile{Path: "Dockerfile", Context: "."}, amd64(), svc, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	for _, c := range []struct {
		target   string
		contexts map[string]string
		base     string
		installs []string
	}{
		{"", nil, "", nil},
		{"final", nil, base, []string{"Dockerfile:3", "Dockerfile:5", "Dockerfile:10"}},
		{"other", nil, base, []string{"Dockerfile:7"}},
		{"tools", nil, base, []string{"Dockerfile:3", "Dockerfile:5"}},
		// A build context named like a stage replaces it, installs and all.
		{"tools", map[string]string{"build": base}, base, []string{"Dockerfile:5"}},
	} {
		tg := target(c.target, WithBuildContexts(c.contexts))
		if tg.Base != c.base || !reflect.DeepEqual(tg.Installs, c.installs) {
			t.Errorf("target %q (contexts %v): base %q, installs %q; want %q, %q", c.target, c.contexts, tg.Base, tg.Installs, c.base, c.installs)
		}
		if c.base == "" {
			if tg.BaseImage != nil {
				t.Errorf("target %q: FROM scratch has a base image", c.target)
			}
			continue
		}
		if d, _ := tg.BaseImage.Digest(); d != want {
			t.Errorf("target %q: base digest %s, want %s", c.target, d, want)
		}
	}
}
