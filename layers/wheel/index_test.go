package wheel

import (
	"reflect"
	"testing"

	"github.com/assemble-build/assemble/internal/redact"
)

// A PEP 503 page's anchors and their attributes, as pip reads them.
func TestParseHTMLPage(t *testing.T) {
	const page = `<!DOCTYPE html>
<html><head><title>Links for demo</title></head>
<body>
<!-- <a href="commented-out-1.0-py3-none-any.whl">not a link</a> -->
<h1>Links for demo</h1>
<a href="../../files/demo-1.0-py3-none-any.whl#sha256=ABCDEF" data-requires-python="&gt;=3.8,&lt;4">demo-1.0-py3-none-any.whl</a><br/>
<A HREF='https://files.example/demo-1.1-py3-none-any.whl?a=1&amp;b=2#md5=00' DATA-YANKED="broken &amp; bad">demo-1.1</A>
<a href=demo-1.2-py3-none-any.whl data-yanked data-core-metadata="sha256=AB12">demo-1.2</a>
<a href="demo-1.3-py3-none-any.whl" data-dist-info-metadata="true">demo-1.3</a>
<a href="demo-1.4-py3-none-any.whl" data-core-metadata="false" data-dist-info-metadata="sha256=ff">demo-1.4</a>
<a href="demo-1.5-py3-none-any.whl" data-requires-python="&#62;=3.9" data-requires-python="<2">demo-1.5</a>
<a href="demo%2B1.6-py3-none-any.whl">percent-encoded</a>
<a>no href</a><a href="">empty href</a>
</body></html>`
	got, err := parseHTMLPage("https://user:secret@pypi.example/simple/demo/", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	from := redact.Password("https://user:secret@pypi.example/simple/demo/")
	want := []fileLink{
		{Filename: "demo-1.0-py3-none-any.whl", URL: "https://user:secret@pypi.example/files/demo-1.0-py3-none-any.whl", SHA256: "abcdef", RequiresPython: ">=3.8,<4", From: from},
		{Filename: "demo-1.1-py3-none-any.whl", URL: "https://files.example/demo-1.1-py3-none-any.whl?a=1&b=2", Yanked: true, YankedReason: "broken & bad", From: from},
		{Filename: "demo-1.2-py3-none-any.whl", URL: "https://user:secret@pypi.example/simple/demo/demo-1.2-py3-none-any.whl", Yanked: true, HasMetadata: true, MetadataSHA256: "ab12", From: from},
		{Filename: "demo-1.3-py3-none-any.whl", URL: "https://user:secret@pypi.example/simple/demo/demo-1.3-py3-none-any.whl", HasMetadata: true, From: from},
		{Filename: "demo-1.4-py3-none-any.whl", URL: "https://user:secret@pypi.example/simple/demo/demo-1.4-py3-none-any.whl", From: from},
		{Filename: "demo-1.5-py3-none-any.whl", URL: "https://user:secret@pypi.example/simple/demo/demo-1.5-py3-none-any.whl", RequiresPython: ">=3.9", From: from},
		{Filename: "demo+1.6-py3-none-any.whl", URL: "https://user:secret@pypi.example/simple/demo/demo%2B1.6-py3-none-any.whl", From: from},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("links:\ngot  %+v\nwant %+v", got, want)
	}
}

// Relative links resolve against the first <base href>, itself relative to
// the page; later <base> tags are ignored.
func TestParseHTMLPageBase(t *testing.T) {
	const page = `<html><head><base href="../../mirror/files/"><base href="https://elsewhere.example/"></head>
<body><a href="demo-1.0-py3-none-any.whl#sha256=aa">x</a><a href="/abs/demo-2.0-py3-none-any.whl">y</a></body></html>`
	got, err := parseHTMLPage("https://pypi.example/simple/demo/", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].URL != "https://pypi.example/mirror/files/demo-1.0-py3-none-any.whl" || got[0].SHA256 != "aa" ||
		got[1].URL != "https://pypi.example/abs/demo-2.0-py3-none-any.whl" {
		t.Errorf("links: %+v", got)
	}
	// A <base> without href leaves the page URL as the base.
	got, err = parseHTMLPage("https://pypi.example/simple/demo/", []byte(`<base target="_top"><a href="d-1.0-py3-none-any.whl">d</a>`))
	if err != nil || len(got) != 1 || got[0].URL != "https://pypi.example/simple/demo/d-1.0-py3-none-any.whl" {
		t.Errorf("links: %+v (%v)", got, err)
	}
}

// A find-links page need not be well formed: a bare list of anchors parses,
// and a truncated page keeps what came before the cut.
func TestParseHTMLPageLoose(t *testing.T) {
	got, err := parseHTMLPage("file:///srv/wheels/index.html", []byte(`<a href="a-1.0-py3-none-any.whl">a</a>
<a href="b-1.0-py3-none-any.whl">b<a href="c-1.0-py3-none-any.whl"`))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range got {
		names = append(names, l.Filename)
	}
	if !reflect.DeepEqual(names, []string{"a-1.0-py3-none-any.whl", "b-1.0-py3-none-any.whl"}) {
		t.Errorf("files: %v", names)
	}
	if got[0].URL != "file:///srv/wheels/a-1.0-py3-none-any.whl" {
		t.Errorf("URL %s", got[0].URL)
	}
}
