package deb

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// pamTemplate is Debian's /usr/share/pam/common-<type> shape: the two
// blocks pam-auth-update fills, between its markers.
func pamTemplate(typ string) string {
	short := strings.TrimSuffix(typ, "-noninteractive")
	return "#\n# /etc/pam.d/common-" + typ + "\n#\n\n" +
		"# here are the per-package modules (the \"Primary\" block)\n" +
		short + "\t[success=1 default=ignore]\tpam_unix.so nullok\n" +
		"# here's the fallback if no module succeeds\n" +
		short + "\trequisite\t\t\tpam_deny.so\n" +
		short + "\trequired\t\t\tpam_permit.so\n" +
		"# and here are more per-package modules (the \"Additional\" block)\n" +
		short + "\toptional\tpam_old.so\n" +
		"# end of pam-auth-update config\n"
}

var pamProfiles = map[string]string{
	"unix": `Name: Unix authentication
Default: yes
Priority: 256
Auth-Type: Primary
Auth:
	[success=end default=ignore]	pam_unix.so nullok try_first_pass
Auth-Initial:
	[success=end default=ignore]	pam_unix.so nullok
Account-Type: Primary
Account:
	[success=end new_authtok_reqd=done default=ignore]	pam_unix.so
Session-Type: Additional
Session:
	required	pam_unix.so
Password-Type: Primary
Password:
	[success=end default=ignore]	pam_unix.so obscure use_authtok try_first_pass yescrypt
Password-Initial:
	[success=end default=ignore]	pam_unix.so obscure yescrypt
`,
	"systemd": `Name: Register user sessions in the systemd control group hierarchy
Default: yes
Priority: 0

Session-Interactive-Only: yes
Session-Type: Additional
Session:
	optional			pam_systemd.so
`,
	"mkhomedir": `Name: Create home directory on login
Default: no
Priority: 0
Session-Type: Additional
Session-Final:
	optional			pam_mkhomedir.so
`,
	"krb5": `Name: Kerberos authentication
Default: yes
Priority: 704
Auth-Type: Primary
Auth:
	[success=end default=ignore]	pam_krb5.so minimum_uid=1000
	[success=end default=ignore]	pam_krb5.so use_first_pass
Account-Type: Additional
Account:
	required			pam_krb5.so minimum_uid=1000
Session-Type: Other
Session:
	optional			pam_krb5.so minimum_uid=1000
`,
}

// pamLayer runs pamAuthUpdate over libpam-runtime's templates and the
// profiles, and returns the files it wrote.
func pamLayer(t *testing.T, profiles map[string]string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, typ := range []string{"auth", "account", "password", "session", "session-noninteractive"} {
		files["usr/share/pam/common-"+typ] = pamTemplate(typ)
		files["usr/share/pam/common-"+typ+".md5sums"] = "ignored\n"
	}
	for name, text := range profiles {
		files["usr/share/pam-configs/"+name] = text
	}
	n := &nativeEnv{arch: "amd64", b: newLayerBuilder(), all: []metaOf{
		{pkg: &Package{Name: "libpam-runtime"}, meta: &debMeta{Files: files}, own: true},
	}}
	if err := n.pamAuthUpdate(); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, e := range n.b.entries {
		out[p] = string(e.data)
	}
	return out
}

// pam-auth-update's output for Debian-shaped templates and profiles:
// priorities, Initial lines, "end" jumps, Session-Interactive-Only,
// disabled profiles, and a type that is neither Primary nor Additional.
func TestPamAuthUpdate(t *testing.T) {
	got := pamLayer(t, pamProfiles)
	if os.Getenv("PAM_GOLDEN") != "" {
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("%q: %q,\n", k, got[k])
		}
	}
	for p, w := range pamWant {
		if got[p] != w {
			t.Errorf("%s:\ngot  %q\nwant %q", p, got[p], w)
		}
	}
	if len(got) != len(pamWant) {
		t.Errorf("wrote %d files, want %d", len(got), len(pamWant))
	}
	// Without a profile of its own the Primary block falls through to pam_permit.
	got = pamLayer(t, map[string]string{"systemd": pamProfiles["systemd"]})
	if a := got["etc/pam.d/common-auth"]; !strings.Contains(a, "auth\t[default=1]\t\t\tpam_permit.so\n# here's") {
		t.Errorf("common-auth without modules:\n%s", a)
	}
	if s := got["var/lib/pam/auth"]; s != "Module: null\n[default=1]\t\t\tpam_permit.so\n" {
		t.Errorf("var/lib/pam/auth: %q", s)
	}
}
