package pieces

import (
	"net/url"
	"strings"

	"github.com/assemble-build/assemble/internal/git"
)

// gitSourceURL is the web URL of root's "origin" remote, or "" when root is
// not itself the top of a git work tree (a testdata repository inside
// another checkout has no remote of its own) or has no origin.
func gitSourceURL(root string) string {
	return webURL(git.Describe(root).Origin)
}

// webURL turns a git remote into the https URL Domino expects
// ("https://github.com/owner/repo"), dropping credentials and ".git".
func webURL(remote string) string {
	remote = strings.TrimSpace(remote)
	if remote == "" {
		return ""
	}
	var host, path string
	if u, err := url.Parse(remote); err == nil && u.Scheme != "" && u.Host != "" {
		switch u.Scheme {
		case "http", "https", "ssh", "git", "git+ssh":
		default:
			return ""
		}
		host, path = u.Hostname(), u.Path
		if u.Scheme == "http" || u.Scheme == "https" {
			host = u.Host
		}
	} else if at, rest, ok := strings.Cut(remote, ":"); ok && !strings.Contains(at, "/") && !strings.Contains(remote, "://") {
		// scp-like: git@github.com:owner/repo.git
		if i := strings.LastIndexByte(at, '@'); i >= 0 {
			at = at[i+1:]
		}
		host, path = at, rest
	} else {
		return ""
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if host == "" || path == "" {
		return ""
	}
	return "https://" + host + "/" + path
}
