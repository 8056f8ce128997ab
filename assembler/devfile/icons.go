package devfile

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// checkIcons checks every index item's icon as the index generator does
// (200 and an image/* Content-Type), with HEAD first and GET when the
// server does not answer HEAD. An item without an icon fails too: the
// generator fetches "" and gets an error.
func (r *registry) checkIcons(o *options) {
	results := map[string]string{} // URL -> problem ("" when fine)
	for i, e := range r.index {
		file, line := r.where[i].file, r.where[i].line
		if e.Icon == "" {
			r.problems.add(file, line, "%s %q has no icon (icons are checked): set metadata.icon (or icon in stack.yaml / extraDevfileEntries.yaml) to an image URL", e.Type, e.Name)
			continue
		}
		msg, ok := results[e.Icon]
		if !ok {
			msg = iconProblem(o.ctx, o.client, e.Icon)
			results[e.Icon] = msg
		}
		if msg != "" {
			r.problems.add(file, line, "%s %q has a broken icon %s: %s", e.Type, e.Name, e.Icon, msg)
		}
	}
}

func iconProblem(ctx context.Context, c *http.Client, icon string) string {
	u, err := url.Parse(icon)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "not an http(s) URL"
	}
	resp, err := fetch(ctx, c, http.MethodHead, icon)
	if err == nil && (resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented) {
		resp, err = fetch(ctx, c, http.MethodGet, icon)
	}
	if err != nil {
		return err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	ct := resp.Header.Values("Content-Type")
	for _, v := range ct {
		if strings.Contains(v, "image/") {
			return ""
		}
	}
	return fmt.Sprintf("Content-Type %q is not an image", strings.Join(ct, ", "))
}

func fetch(ctx context.Context, c *http.Client, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	// Only the status and headers matter.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}
