package wheel

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/layers"
)

// unreachableError is a request that got no answer from its host: connection
// refused, DNS failure, timeout, TLS or proxy failure. As pip does, the
// resolver then skips the source and goes on with the others; the client
// remembers the host so that later lookups do not pay the HTTP client's
// retries again.
type unreachableError struct {
	url string // the request's URL (may carry credentials; never printed raw)
	err error  // the first failure for the host
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("GET %s: %v", redact.Password(e.url), e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// reason is the failure without the request line, for "cannot be reached (...)".
func (e *unreachableError) reason() string {
	var ue *url.Error
	if errors.As(e.err, &ue) {
		return redact.Text(ue.Err.Error())
	}
	return redact.Text(e.err.Error())
}

// hostDown returns why host could not be reached earlier, if it could not.
func (c *client) hostDown(host string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down[host]
}

func (c *client) markDown(host string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down == nil {
		c.down = map[string]error{}
	}
	if _, ok := c.down[host]; !ok {
		c.down[host] = err
	}
}

// sourceResult is what one index, find-links page or wheelhouse said about
// a project, for the error that lists every source tried.
type sourceResult struct {
	name   string // redacted URL or directory
	failed string // why it gave nothing ("cannot be reached (...)", "answered 404 Not Found"); "" when it was read
	files  int    // files of the project it lists
	// skipped marks an index that did not answer (unreachable, a server
	// error, not cached offline), for the --no-index/--index-url hint.
	skipped bool
	err     error // the failure, for errors.Is (layers.ErrNotCached offline)
}

// addSource records what a source listed for the project and tags its links
// with the source, so that errors can say which versions each offered.
func (p *project) addSource(name string, src sourceResult, ls []fileLink) []fileLink {
	i := len(p.sources)
	for j := range ls {
		ls[j].src = i
		if ls[j].project == name {
			src.files++
		}
	}
	p.sources = append(p.sources, src)
	return ls
}

// linkProject is the normalized project a wheel or sdist file name is for
// ("" for other files). An sdist's name is ambiguous ("a-b-1.0.tar.gz"), so
// its name is taken up to the last dash.
func linkProject(fn string) string {
	if strings.HasSuffix(fn, ".whl") {
		if wf, err := ParseWheelFilename(fn); err == nil {
			return NormalizeName(wf.Name)
		}
		return ""
	}
	lower := strings.ToLower(fn)
	for _, e := range sourceExts {
		if strings.HasSuffix(lower, e) {
			if i := strings.LastIndexByte(fn[:len(fn)-len(e)], '-'); i > 0 {
				return NormalizeName(fn[:i])
			}
		}
	}
	return ""
}

// sourceFailed decides what a failed page lookup means. An index or
// find-links page that cannot be reached, answers a server error or 404, or
// (offline) is not in the cache is skipped, with one warning per source
// (but none for an index without the project: that is how indexes say so),
// as pip does; anything else (bad credentials, a page that is not an index,
// a missing wheelhouse directory) stops the build.
func (s *session) sourceFailed(src, project string, index bool, err error) (sourceResult, error) {
	res := sourceResult{name: redact.Password(src), err: err, skipped: index}
	var ue *unreachableError
	var he *httpError
	switch {
	case errors.Is(err, errNotFound):
		res.skipped, res.err = false, nil
		if !index {
			res.failed = "answered 404 Not Found"
			s.warnSource(src, "find-links page not found; resolving from the other sources")
			return res, nil
		}
		res.failed = "answered 404 Not Found for " + project
	case errors.As(err, &ue):
		res.failed = "cannot be reached (" + ue.reason() + ")"
		s.warnSource(src, "python package source cannot be reached; resolving from the other sources", "error", ue.reason())
	case errors.As(err, &he) && he.status >= 500:
		res.failed = fmt.Sprintf("answered HTTP %d %s", he.status, http.StatusText(he.status))
		s.warnSource(src, "python package source answers with server errors; resolving from the other sources", "status", he.status)
	case s.r.offline && errors.Is(err, layers.ErrNotCached):
		res.failed = "not consulted (--offline) and its page for " + project + " is not in the cache"
		s.warnSource(src, "python package source not consulted (--offline); resolving from the cache and the other sources")
	default:
		return res, err
	}
	return res, nil
}

// warnSource logs msg once per source and resolution.
func (s *session) warnSource(src, msg string, args ...any) {
	if s.warned[src] {
		return
	}
	s.warned[src] = true
	logctx.From(s.ctx).Warn(msg, append([]any{"source", redact.Password(src)}, args...)...)
}

// maxListedVersions bounds the versions an error lists per source.
const maxListedVersions = 8

// explain adds to a conflict what each source said about its project and,
// when an index did not answer, how to build without it.
func (s *session) explain(ce *conflictError) {
	p := s.projects[ce.name]
	if p == nil || len(p.sources) == 0 {
		return
	}
	for i, src := range p.sources {
		ce.sources = append(ce.sources, src.name+": "+s.said(ce.name, p, i))
		if src.err != nil {
			ce.causes = append(ce.causes, src.err)
		}
		ce.hintNoIndex = ce.hintNoIndex || src.skipped
	}
}

// said is what source i gave for a project: its failure, or the versions
// it offers with a wheel usable on the target.
func (s *session) said(name string, p *project, i int) string {
	src := p.sources[i]
	if src.failed != "" {
		return src.failed
	}
	var vs []string
	for _, c := range p.cands {
		for _, f := range c.files {
			if f.src == i {
				vs = append(vs, c.version.String())
				break
			}
		}
	}
	switch {
	case len(vs) > maxListedVersions:
		return fmt.Sprintf("offers %s %s (and %d older)", name, strings.Join(vs[:maxListedVersions], ", "), len(vs)-maxListedVersions)
	case len(vs) > 0:
		return "offers " + name + " " + strings.Join(vs, ", ")
	case src.files > 0:
		return fmt.Sprintf("lists %d files of %s, none a wheel usable on this target", src.files, name)
	default:
		return "has no files of " + name
	}
}

// pageLinks lists one source's links for a project: an index's project page,
// a find-links page, or a wheelhouse directory.
// A find-links source (index false) is the same page or directory for every
// project: it is listed once per resolution, and each project gets its own
// copy of the links (they are annotated per project).
func (s *session) pageLinks(pageURL string, dir, index bool) ([]fileLink, error) {
	c := s.r.client
	list := func() ([]fileLink, error) {
		var ls []fileLink
		var err error
		if dir {
			ls, err = c.dirLinks(s.ctx, pageURL)
		} else {
			ls, err = c.page(s.ctx, pageURL)
		}
		for i := range ls {
			ls[i].project = linkProject(ls[i].Filename)
		}
		return ls, err
	}
	if index {
		return list()
	}
	if ls, ok := s.listed[pageURL]; ok {
		return slices.Clone(ls), nil
	}
	ls, err := list()
	if err != nil {
		return nil, err
	}
	s.listed[pageURL] = slices.Clone(ls)
	return ls, nil
}
