package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/oci/sync"
)

// The registry flags people already type, with skopeo's (and buildah's)
// meanings, for copy, inspect, sync and build. They are wired here only, so
// the commands' files just call add* and registries.

// registrySide is what one side of a transfer (source or destination) is
// given: --creds and --tls-verify, or their --src-/--dest- forms.
type registrySide struct {
	creds, credsFlag string
	tlsVerify        bool
}

// remoteFlags are --authfile, --retry-times and one or two sides.
type remoteFlags struct {
	authFile   string
	retryTimes int
	retrySet   *pflag.Flag
	src, dest  registrySide
}

// addCommon adds --authfile and --retry-times.
func (r *remoteFlags) addCommon(fl *pflag.FlagSet) {
	fl.StringVar(&r.authFile, "authfile", "", "read registry credentials from this `FILE` only (podman's auth.json format; default: Docker's and podman's usual files)")
	fl.IntVar(&r.retryTimes, "retry-times", 0, "retry a failed registry request this many times (default: 4, honouring Retry-After)")
	r.retrySet = fl.Lookup("retry-times")
}

// addOne adds --creds and --tls-verify for commands that reach registries
// with one set of settings (inspect; build pulls bases and pushes).
func (r *remoteFlags) addOne(fl *pflag.FlagSet) {
	r.addCommon(fl)
	r.src.add(fl, "", "the registry")
}

// addTwo adds --src-creds, --dest-creds, --src-tls-verify and
// --dest-tls-verify (copy).
func (r *remoteFlags) addTwo(fl *pflag.FlagSet) {
	r.addCommon(fl)
	r.src.add(fl, "src-", "the source registry")
	r.dest.add(fl, "dest-", "the destination registry")
}

func (s *registrySide) add(fl *pflag.FlagSet, prefix, what string) {
	s.credsFlag = "--" + prefix + "creds"
	fl.StringVar(&s.creds, prefix+"creds", "", "use `USER[:PASS]` for "+what+" (without :PASS, asked on the terminal)")
	fl.BoolVar(&s.tlsVerify, prefix+"tls-verify", true, "require HTTPS and verified certificates for "+what+"; =false also allows plain HTTP (as --insecure-registry)")
}

// registries returns the registry settings for one side: the global
// --insecure-registry and --jobs, this side's credentials first, then
// --authfile's or the usual files', and --retry-times.
func (r *remoteFlags) registries(g *globals, s *registrySide) (*remote.Registries, error) {
	rem := g.remote()
	kc, err := r.keychain(s)
	if err != nil {
		return nil, err
	}
	if kc == nil {
		kc = remote.DefaultKeychain()
	} else if r.authFile == "" {
		kc = authn.NewMultiKeychain(kc, remote.DefaultKeychain())
	}
	rem.Keychain = kc
	rem.NoTLSVerify = !s.tlsVerify
	if r.retrySet != nil && r.retrySet.Changed {
		if r.retryTimes < 0 {
			return nil, fmt.Errorf("--retry-times %d: give 0 or more", r.retryTimes)
		}
		rem.Retry.Attempts = r.retryTimes + 1
	}
	return rem, nil
}

// keychain is what the flags give for side s: its --creds, then
// --authfile; nil when they give nothing.
func (r *remoteFlags) keychain(s *registrySide) (authn.Keychain, error) {
	var kcs []authn.Keychain
	if s.creds != "" {
		user, pass, hasPass, err := remote.ParseCreds(s.creds)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.credsFlag, err)
		}
		if !hasPass {
			if pass, err = askPassword(user); err != nil {
				return nil, fmt.Errorf("%s %s: %w: give USER:PASS", s.credsFlag, user, err)
			}
		}
		kcs = append(kcs, remote.StaticKeychain(user, pass))
	}
	if r.authFile != "" {
		if _, err := os.Stat(r.authFile); err != nil {
			return nil, fmt.Errorf("--authfile: %w (log in with `assemble login --authfile %s REGISTRY` first)", err, r.authFile)
		}
		kcs = append(kcs, remote.FileKeychain(r.authFile))
	}
	if len(kcs) == 0 {
		return nil, nil
	}
	return authn.NewMultiKeychain(kcs...), nil
}

// addSync adds sync's: --authfile, both sides, and --retry-times, which
// for skopeo sync retries each failed image as image-syncer's --retries
// (the same variable) does.
func (r *remoteFlags) addSync(fl *pflag.FlagSet, retries *int) {
	fl.StringVar(&r.authFile, "authfile", "", "credentials for registries the auth file has no entry for (podman's auth.json format)")
	r.src.add(fl, "src-", "source registries")
	r.dest.add(fl, "dest-", "destination registries")
	fl.IntVar(retries, "retry-times", 2, "skopeo's name for --retries")
}

// syncOptions are the sides' settings for sync: beside the auth file,
// which wins where it has an entry.
func (r *remoteFlags) syncOptions() ([]sync.Option, error) {
	var opts []sync.Option
	for _, s := range []struct {
		side *registrySide
		opt  func(sync.SideDefaults) sync.Option
	}{{&r.src, sync.WithSourceDefaults}, {&r.dest, sync.WithDestinationDefaults}} {
		kc, err := r.keychain(s.side)
		if err != nil {
			return nil, err
		}
		opts = append(opts, s.opt(sync.SideDefaults{Keychain: kc, Insecure: !s.side.tlsVerify}))
	}
	return opts, nil
}

var errNoTerminal = errors.New("no password and no terminal to ask on")

// askPassword reads a password from the terminal, as skopeo does for
// --creds USER and podman login without --password-stdin; without a
// terminal there is no one to ask.
func askPassword(user string) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errNoTerminal
	}
	fmt.Fprintf(os.Stderr, "Password for %s: ", user)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(b), nil
}

// quietValue is -q/--quiet: it turns progress off (--progress none), as
// skopeo copy -q and buildah -q do. Results on stdout stay.
type quietValue struct{ progress *string }

func (q quietValue) String() string { return "false" }
func (q quietValue) Type() string   { return "bool" }
func (q quietValue) IsBoolFlag() bool {
	return true
}

func (q quietValue) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if v {
		*q.progress = "none"
	}
	return nil
}

func addQuiet(fl *pflag.FlagSet, g *globals) {
	f := fl.VarPF(quietValue{&g.progress}, "quiet", "q", "print no progress (as --progress none); results still go to stdout")
	f.NoOptDefVal = "true"
}

// multiArch is skopeo copy's --multi-arch: what of an index is copied.
type multiArch string

const (
	multiArchSystem    multiArch = "system"     // the image for this machine's platform
	multiArchAll       multiArch = "all"        // the index and every image
	multiArchIndexOnly multiArch = "index-only" // the index alone
)

type multiArchFlags struct {
	all  bool
	mode string
}

func (m *multiArchFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVarP(&m.all, "all", "a", false, "copy every image of an index (as --multi-arch all)")
	fl.StringVar(&m.mode, "multi-arch", "", "what to copy of an index: system (this machine's platform's image; the default), all, or index-only (to a registry that holds the images)")
	// The flag was just defined: registering cannot fail.
	_ = cmd.RegisterFlagCompletionFunc("multi-arch", completeWords(string(multiArchSystem), string(multiArchAll), string(multiArchIndexOnly)))
}

// resolve returns the mode the flags ask for.
func (m *multiArchFlags) resolve() (multiArch, error) {
	mode := multiArch(m.mode)
	switch mode {
	case "":
		mode = multiArchSystem
		if m.all {
			mode = multiArchAll
		}
	case multiArchSystem, multiArchAll, multiArchIndexOnly:
		if m.all && mode != multiArchAll {
			return "", fmt.Errorf("--all and --multi-arch %s disagree: give one", mode)
		}
	default:
		return "", fmt.Errorf("--multi-arch %q: use system, all or index-only", m.mode)
	}
	return mode, nil
}
