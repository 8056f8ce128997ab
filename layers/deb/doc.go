// Package deb builds image layers from Debian packages without a container
// and without root, the way distroless and apko do: it reads a Debian
// archive itself, resolves package names to the full set apt would install,
// and turns the .deb files into layer entries (layers.Entry), with dpkg's
// database written so that dpkg-query and image scanners see every package.
//
// # Sources and verification
//
// A Source is a mirror (http, https or file URL; suites; components;
// architecture) or a local directory of .deb files (air-gapped). A mirror's
// InRelease (or Release + Release.gpg) must be signed by a key in the
// keyring (Source.Keyring, WithKeyring, /usr/share/keyrings/
// debian-archive-keyring.gpg, else a copy built into the binary); the
// Release must name the requested suite; each Packages index (xz, gz or
// plain) must match the Release's SHA256; each .deb must match the index's
// SHA256. Everything fetched is kept in the cache's download store (the
// uncompressed index too, so a later build neither downloads nor
// decompresses it). The first unpacking of a .deb also keeps its decoded
// control.tar and data.tar, zstd-compressed at the fastest level, in the
// cache (<cache>/deb-expanded/<the .deb's sha256>): later builds read that
// instead of decoding xz again; a copy that fails zstd's checksum is a miss
// and is written again, and `assemble cache verify` checks every copy.
// WithOffline never touches the network and fails naming every input the
// cache lacks (the expanded copies are derived: a bundle need not carry them).
//
// # Resolution
//
// Index.Resolve follows Pre-Depends and Depends (not Recommends),
// alternatives (the first satisfiable, unless another is already chosen or
// installed), version constraints, virtual packages (a real provider,
// preferring one already chosen), ":any"/":native"/":arch" qualifiers with
// Multi-Arch rules, and apt's candidate order (highest version; NotAutomatic
// suites such as backports only when nothing else fits). Packages already in
// a base image (ParseStatus of its dpkg status) are not installed again.
// Conflicts and Breaks are checked, not solved around. Every error names the
// request's file and line and the dependency chain.
//
// Client.Index only verifies the Release (online it is fetched every time:
// it is small and says whether the archive changed) and checks that each
// Packages index is in the cache; the indexes are parsed on first need. A
// successful resolution is kept in the cache (<cache>/deb-resolve/<key>.json,
// keyed by the verified Release texts or a local directory's .deb digests,
// the architecture, suites and components, the requested names and the
// installed packages), so a build that asks the same again reads no index.
//
// # Layers
//
// Client.Layers groups packages into at most a budget of layers: the stable
// OS set (Essential, Priority required/important, and the base extras),
// packages pulled in as dependencies, and packages requested by name. Each
// layer's Key is a digest of its packages (name, version, architecture,
// SHA256), those below it, the base's status and the unpacker's format, so
// two images that share packages share layers. Every layer carries a
// complete var/lib/dpkg/status for itself and everything below it, and the
// info files (.list, .md5sums, .conffiles, maintainer scripts) of its own
// packages; lower layers never depend on what is stacked above them.
//
// A layer's Entries unpacks its packages several at a time
// (WithUnpackWorkers, default GOMAXPROCS) and keeps small files in memory
// until they are written (WithUnpackMemory), the rest in staging files in
// the cache's tmp directory (one per unpacking goroutine); neither setting
// changes a byte of the layer.
// data.tar.xz (and Packages.xz) is decoded by the system's xz -dc when it
// is on PATH, several times faster than the pure-Go decoder that is used
// otherwise; both give the same bytes, so neither changes the layer either.
//
// Paths are merged-/usr: ./bin/ls in a data.tar becomes usr/bin/ls, and
// the bottom layer has bin, sbin, lib (and lib64 on amd64) as links into
// usr/. Unsafe archive content is refused: "..", absolute paths, hard links
// to anything but an earlier file of the same package, device nodes, and
// paths below a symlink of the same layer.
//
// # Maintainer scripts
//
// Maintainer scripts are not run. What an image needs from them is done
// natively and deterministically:
//
//   - base-passwd, passwd: /etc/passwd and /etc/group from base-passwd's
//     masters, and /etc/shadow, /etc/gshadow as pwconv and grpconv make them
//     (last-change date left empty);
//   - base-files: /etc/profile, /etc/motd, /root/.profile, /root/.bashrc,
//     the directories and links its postinst makes (/var/run -> /run, ...),
//     /var/log/wtmp, btmp, lastlog;
//   - debianutils: /etc/shells as update-shells writes it;
//   - update-alternatives --install calls written literally in postinsts
//     (awk -> mawk, which, pager, rmt, ...), in automatic mode, with their
//     state in /var/lib/dpkg/alternatives;
//   - dash's diversion of /bin/sh in /var/lib/dpkg/diversions;
//   - libc-bin's /etc/nsswitch.conf, readline-common's /etc/inputrc;
//   - libpam-runtime's pam-auth-update (/etc/pam.d/common-*), and the
//     files libpam-modules and login create;
//   - python3's /etc/python3/debian_config and the local site directories;
//   - tzdata: /etc/localtime and /etc/timezone for Etc/UTC;
//   - netbase: /etc/hosts and /etc/networks;
//   - ca-certificates: /etc/ca-certificates.conf, the bundle
//     /etc/ssl/certs/ca-certificates.crt, NAME.pem links and openssl rehash
//     links, so TLS works (python's ssl, curl, ...);
//   - dpkg's trigger interest database, so a later dpkg run activates them.
//
// Not done: ldconfig's cache, byte-compiling Python, debconf's database,
// users and groups created by adduser in other postinsts, setcap, chown and
// dpkg-statoverride calls, init and systemd links, trigger processing (man-db,
// fontconfig, mime, ...), locale generation, alternatives built from shell
// variables. NOT-DONE.md lists them with their consequences.
package deb
