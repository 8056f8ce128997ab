package lazyregexp

import (
	"regexp"
	"slices"
	"sync"
	"testing"
)

// outsideTests makes New behave as it does in the assemble binary for the
// rest of the test.
func outsideTests(t *testing.T) {
	t.Helper()
	inTest = false
	t.Cleanup(func() { inTest = true })
}

func TestCompiledOnFirstUse(t *testing.T) {
	if !inTest {
		t.Fatal("a test binary is not recognised as one: bad patterns would go unnoticed until used")
	}
	outsideTests(t)
	r := New(`^(\d+)\.(\d+)$`)
	if r.rx != nil {
		t.Fatal("compiled at New")
	}
	if !r.MatchString("3.12") {
		t.Fatal("3.12 does not match")
	}
	if r.rx == nil {
		t.Fatal("not compiled after its first use")
	}
}

func TestBadPatternPanicsOnFirstUse(t *testing.T) {
	outsideTests(t)
	r := New(`(`)
	defer func() {
		if recover() == nil {
			t.Fatal("a bad pattern did not panic on use")
		}
	}()
	r.MatchString("x")
}

func TestSameAnswersAsRegexp(t *testing.T) {
	outsideTests(t)
	const pat = `(?P<name>[a-z]+)=(\d*)`
	in := "a=1, bb=22; c= d=4"
	lr, rx := New(pat), regexp.MustCompile(pat)
	if !slices.Equal(lr.FindAllString(in, -1), rx.FindAllString(in, -1)) ||
		!slices.Equal(lr.FindStringSubmatch(in), rx.FindStringSubmatch(in)) ||
		lr.ReplaceAllString(in, "${name}") != rx.ReplaceAllString(in, "${name}") ||
		!slices.Equal(lr.Split(in, -1), rx.Split(in, -1)) ||
		lr.SubexpIndex("name") != rx.SubexpIndex("name") ||
		lr.FindString(in) != rx.FindString(in) {
		t.Fatal("answers differ from regexp's")
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	outsideTests(t)
	r := New(`^x+$`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if !r.MatchString("xxx") {
				t.Error("xxx does not match")
			}
		})
	}
	wg.Wait()
}
