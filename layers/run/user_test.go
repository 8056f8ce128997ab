package run

import (
	"slices"
	"strings"
	"testing"
)

func TestLookupUser(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\napp:x:1000:1001:App:/home/app:/bin/sh\nsvc:x:999:999::/var/lib/svc:/usr/sbin/nologin\n")
	group := []byte("root:x:0:\nwheel:x:10:app,svc\napp:x:1001:\ndocker:x:998:app\n")
	for _, tc := range []struct {
		spec string
		want execUser
		err  string
	}{
		{spec: "", want: execUser{UID: 0, GID: 0, Home: "/root"}},
		{spec: "app", want: execUser{UID: 1000, GID: 1001, Groups: []int{10, 998}, Home: "/home/app"}},
		{spec: "1000", want: execUser{UID: 1000, GID: 1001, Groups: []int{10, 998}, Home: "/home/app"}},
		{spec: "app:wheel", want: execUser{UID: 1000, GID: 10, Home: "/home/app"}},
		{spec: "svc:5", want: execUser{UID: 999, GID: 5, Home: "/var/lib/svc"}},
		{spec: "4242", want: execUser{UID: 4242, GID: 0, Home: "/"}},
		{spec: "4242:4343", want: execUser{UID: 4242, GID: 4343, Home: "/"}},
		{spec: "ghost", err: `user "ghost"`},
		{spec: "app:ghosts", err: `group "ghosts"`},
	} {
		got, err := lookupUser(tc.spec, passwd, group)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got.UID != tc.want.UID || got.GID != tc.want.GID || got.Home != tc.want.Home || !slices.Equal(got.Groups, tc.want.Groups) {
			t.Errorf("%q: %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestTail(t *testing.T) {
	tl := &tail{max: 64}
	for i := range 100 {
		tl.Write([]byte(strings.Repeat("x", i%7) + "\n"))
	}
	tl.Write([]byte("last one\n"))
	got := tl.lines(2)
	if !strings.HasSuffix(got, "\nlast one") || strings.Count(got, "\n") != 1 {
		t.Errorf("lines(2) = %q", got)
	}
}
