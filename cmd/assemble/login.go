package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/assemble-build/assemble/internal/remote"
)

type loginFlags struct {
	authFile, user, pass string
	passStdin, tlsVerify bool
}

func newLoginCmd(g *globals) *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login REGISTRY",
		Short: "Log in to a registry: check the credentials and store them in podman's auth.json",
		Long: `Login asks REGISTRY whether the user name and password are accepted and, if
they are, stores them as podman login does: in --authfile, else
$REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json. podman,
skopeo, buildah and assemble read them from there.

  printf %s "$TOKEN" | assemble login -u USER --password-stdin registry.example`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := remote.NormalizeLoginKey(args[0])
			if err != nil {
				return err
			}
			user, pass, err := f.credentials(cmd.InOrStdin())
			if err != nil {
				return err
			}
			rem := g.remote()
			rem.NoTLSVerify = !f.tlsVerify
			if err := rem.CheckLogin(cmd.Context(), key, user, pass); err != nil {
				return err
			}
			path := remote.LoginFile(f.authFile)
			if err := remote.SaveLogin(path, key, user, pass); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded!")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.authFile, "authfile", "", "the auth file to write (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
	fl.StringVarP(&f.user, "username", "u", "", "the user name (asked on the terminal when not given)")
	fl.StringVarP(&f.pass, "password", "p", "", "the password (discouraged: other users see it in the process list; use --password-stdin)")
	fl.BoolVar(&f.passStdin, "password-stdin", false, "read the password from stdin")
	fl.BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS and verified certificates; =false also allows plain HTTP")
	return cmd
}

// credentials gets the user name and password from the flags, stdin or the
// terminal, as podman login does.
func (f *loginFlags) credentials(stdin io.Reader) (user, pass string, err error) {
	if f.passStdin && f.pass != "" {
		return "", "", errors.New("--password and --password-stdin: give one")
	}
	user = f.user
	if user == "" {
		if f.passStdin {
			return "", "", errors.New("--password-stdin needs --username (stdin holds the password)")
		}
		if user, err = askLine("Username: "); err != nil {
			return "", "", err
		}
	}
	switch {
	case f.passStdin:
		b, err := io.ReadAll(stdin)
		if err != nil {
			return "", "", fmt.Errorf("--password-stdin: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	case f.pass != "":
		slog.Warn("--password puts the password where other users see it (the process list, shell history): use --password-stdin")
		pass = f.pass
	default:
		if pass, err = askPassword(user); err != nil {
			return "", "", fmt.Errorf("%w: give --password-stdin", err)
		}
	}
	if pass == "" {
		return "", "", errors.New("the password is empty")
	}
	return user, pass, nil
}

// askLine reads one line from the terminal after a prompt.
func askLine(prompt string) (string, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", errors.New("no --username and no terminal to ask on: give -u USER")
	}
	fmt.Fprint(os.Stderr, prompt)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading the user name: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func newLogoutCmd() *cobra.Command {
	var authFile string
	var all bool
	cmd := &cobra.Command{
		Use:   "logout REGISTRY | --all",
		Short: "Remove a registry's credentials from podman's auth.json",
		Args: func(cmd *cobra.Command, args []string) error {
			if all != (len(args) == 0) || len(args) > 1 {
				return errors.New("give one REGISTRY, or --all")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := remote.LoginFile(authFile)
			if all {
				if err := remote.RemoveLogin(path, ""); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "Removed login credentials for all registries")
				return nil
			}
			key, err := remote.NormalizeLoginKey(args[0])
			if err != nil {
				return err
			}
			if err := remote.RemoveLogin(path, key); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed login credentials for %s\n", key)
			return nil
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "the auth file to edit (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove the credentials of every registry")
	return cmd
}
