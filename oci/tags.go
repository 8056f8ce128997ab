package oci

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// TagVars are the values a tag template can use.
type TagVars struct {
	Version string // {version}: the image's or stack's version
	Group   string // {group}: a dependency group's name
	Branch  string // {branch}: the git branch
	SHA     string // {sha}: the full commit id; templates get its first 7 characters
	Time    time.Time
	// Location is the time zone {timestamp:...} is written in; nil means UTC.
	Location *time.Location
}

// MaxTagLength is the longest tag the distribution spec allows.
const MaxTagLength = 128

var (
	tagRe      = lazyregexp.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	placeRe    = lazyregexp.New(`\{[^{}]*\}`)
	notTagChar = lazyregexp.New(`[^A-Za-z0-9_.-]+`)
)

// ExpandTag fills a tag template:
//
//	{version} {group} {branch} {sha}   the TagVars values ({sha}: 7 characters)
//	{timestamp:LAYOUT}                 Time in Location, LAYOUT in strftime
//	                                   form: %Y %m %d %H %M %S %y %j %%
//	{timestamp}                        the same as {timestamp:%Y%m%d%H%M%S}
//
// {branch} has every run of characters a tag cannot hold ("/", "+", ...)
// replaced by "-", so "feat/x" gives "feat-x". The result must be a valid
// tag ([A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters); the error
// otherwise names the template.
func ExpandTag(tmpl string, v TagVars) (string, error) {
	var firstErr error
	out := placeRe.ReplaceAllStringFunc(tmpl, func(p string) string {
		s, err := expandPlaceholder(p[1:len(p)-1], v)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	})
	if firstErr != nil {
		return "", fmt.Errorf("tag template %q: %w", tmpl, firstErr)
	}
	if strings.ContainsAny(out, "{}") {
		return "", fmt.Errorf("tag template %q: unbalanced { or }", tmpl)
	}
	if err := CheckTag(out); err != nil {
		return "", fmt.Errorf("tag template %q: %w", tmpl, err)
	}
	return out, nil
}

// CheckTag reports whether t is a valid tag.
func CheckTag(t string) error {
	switch {
	case t == "":
		return errors.New("the tag is empty")
	case len(t) > MaxTagLength:
		return fmt.Errorf("tag %q is %d characters long; at most %d are allowed", t, len(t), MaxTagLength)
	case !tagRe.MatchString(t):
		return fmt.Errorf("tag %q may only hold A-Z a-z 0-9 _ . - and must not start with . or -", t)
	}
	return nil
}

func expandPlaceholder(p string, v TagVars) (string, error) {
	name, arg, hasArg := strings.Cut(p, ":")
	need := func(val, what string) (string, error) {
		if val == "" {
			return "", fmt.Errorf("{%s} is used but no %s is known", name, what)
		}
		return val, nil
	}
	if hasArg && name != "timestamp" {
		return "", fmt.Errorf("{%s} takes no argument", p)
	}
	switch name {
	case "version":
		return need(v.Version, "version")
	case "group":
		return need(v.Group, "group")
	case "branch":
		b, err := need(v.Branch, "branch (not on a branch? set GITHUB_REF_NAME)")
		if err != nil {
			return "", err
		}
		return notTagChar.ReplaceAllString(b, "-"), nil
	case "sha":
		s, err := need(v.SHA, "commit (set GITHUB_SHA or build from a git checkout)")
		if err != nil {
			return "", err
		}
		return ShortSHA(s), nil
	case "timestamp":
		if v.Time.IsZero() {
			return "", errors.New("{timestamp} is used but no time is set")
		}
		layout := "%Y%m%d%H%M%S"
		if hasArg {
			layout = arg
		}
		return Strftime(layout, v.Time, v.Location)
	}
	return "", fmt.Errorf("unknown placeholder {%s}: use {version}, {group}, {branch}, {sha} or {timestamp:LAYOUT}", p)
}

// ShortSHA returns the first 7 characters of a commit id, as
// `git rev-parse --short` does in all but huge repositories.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Strftime formats t in loc (nil: UTC) with the directives %Y (2025),
// %y (25), %m (09), %d (07), %H (21), %M (34), %S (05), %j (day of the
// year, 250) and %%. Any other directive is an error.
func Strftime(layout string, t time.Time, loc *time.Location) (string, error) {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	var b strings.Builder
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(layout) {
			return "", fmt.Errorf("layout %q ends with a lone %%", layout)
		}
		i++
		switch layout[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("layout %q: unknown directive %%%c (use %%Y %%y %%m %%d %%H %%M %%S %%j %%%%)", layout, layout[i])
		}
	}
	return b.String(), nil
}

// GitVars reads the branch, commit and commit time of the checkout at dir.
// CI variables win over git, as LabNow's tool.sh has it: the branch is
// GITHUB_HEAD_REF (pull requests), else GITHUB_REF_NAME; the commit is
// GITHUB_SHA. Time is the commit's committer time (so tags are
// reproducible); set it to time.Now() for build-time stamps. A directory
// that is not a git checkout, or a missing git, leaves the fields empty
// without an error: templates that need them fail and say so.
func GitVars(dir string, env func(string) string) (TagVars, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	var v TagVars
	v.Branch = env("GITHUB_HEAD_REF")
	if v.Branch == "" {
		v.Branch = env("GITHUB_REF_NAME")
	}
	v.SHA = env("GITHUB_SHA")

	if _, err := exec.LookPath("git"); err != nil {
		return v, nil
	}
	if _, err := git.Run(dir, "rev-parse", "--is-inside-work-tree"); err != nil {
		return v, nil
	}
	head, err := git.Run(dir, "rev-parse", "--verify", "--quiet", "HEAD")
	if err != nil {
		head = "" // a repository without commits
	}
	if v.SHA == "" {
		v.SHA = head
	}
	if v.Branch == "" {
		b, err := git.Run(dir, "branch", "--show-current")
		if err != nil {
			return v, fmt.Errorf("reading the git branch in %s: %w", dir, err)
		}
		v.Branch = b
	}
	if v.SHA != "" {
		// The commit may be unknown locally (GITHUB_SHA of a shallow clone's
		// merge commit): then there is no time, which is not an error.
		if ct, err := git.Run(dir, "show", "-s", "--format=%ct", v.SHA); err == nil {
			if n, err := strconv.ParseInt(ct, 10, 64); err == nil {
				v.Time = time.Unix(n, 0).UTC()
			}
		}
	}
	return v, nil
}

// LabNowLayout is the layout of LabNow's timestamped tag (tool.sh's
// `date +%Y.%m%d.%H%M`), to which "-<short sha>" is appended.
const LabNowLayout = "%Y.%m%d.%H%M"

var repoComponentRe = lazyregexp.New(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)

// LabNow names an image as LabNow's tool.sh does. name is the image's
// main-branch reference, "REGISTRY/NAMESPACE/IMAGE[:TAG]" (TAG defaults
// to "latest"). On any branch but "main" the namespace (the path component
// before IMAGE) gets "0" and the branch's first "/"-separated segment
// appended: branch "feat/x" of quay.io/LabNow/base gives
// quay.io/labnow0feat/base. repo is lower-cased. tags are TAG and
// "%Y.%m%d.%H%M-<short sha>" of v.Time in v.Location (nil: UTC; LabNow's
// CI runs with TZ=Asia/Shanghai). An unknown branch (a detached HEAD
// without GITHUB_REF_NAME) is not "main" either, so, as in tool.sh, the
// namespace gets a bare "0".
func LabNow(name string, v TagVars) (repo string, tags []string, err error) {
	repo, tag := name, "latest"
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo, tag = name[:i], name[i+1:]
	}
	if strings.Contains(repo, "@") {
		return "", nil, fmt.Errorf("LabNow naming of %q: give a tag, not a digest", name)
	}
	parts := strings.Split(repo, "/")
	if slices.Contains(parts, "") {
		return "", nil, fmt.Errorf("LabNow naming of %q: empty path component", name)
	}
	// As docker does: a first component with a dot or port, or localhost, is a registry host.
	comps := parts
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		comps = parts[1:]
	}
	if len(comps) < 2 {
		return "", nil, fmt.Errorf("LabNow naming of %q: need NAMESPACE/IMAGE (with an optional registry in front)", name)
	}
	if v.Branch != "main" {
		space, _, _ := strings.Cut(v.Branch, "/")
		comps[len(comps)-2] += "0" + space
	}
	for _, c := range comps {
		if c = strings.ToLower(c); !repoComponentRe.MatchString(c) {
			return "", nil, fmt.Errorf("LabNow naming of %q on branch %q: %q is not a valid repository path component", name, v.Branch, c)
		}
	}
	repo = strings.ToLower(strings.Join(parts, "/"))
	if v.SHA == "" {
		return "", nil, fmt.Errorf("LabNow naming of %q: the commit is unknown (set GITHUB_SHA or build from a git checkout)", name)
	}
	if v.Time.IsZero() {
		return "", nil, fmt.Errorf("LabNow naming of %q: no time is set for the timestamped tag", name)
	}
	stamp, err := Strftime(LabNowLayout, v.Time, v.Location)
	if err != nil {
		return "", nil, err
	}
	tags = []string{strings.ToLower(tag), strings.ToLower(stamp + "-" + ShortSHA(v.SHA))}
	for _, t := range tags {
		if err := CheckTag(t); err != nil {
			return "", nil, fmt.Errorf("LabNow naming of %q: %w", name, err)
		}
	}
	return repo, tags, nil
}
