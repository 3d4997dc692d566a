package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/auth"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
	"golang.org/x/term"
)

// userStdin is where `herald user add` reads a password from when
// HERALD_PASSWORD is not set; tests leave it alone and set the variable.
var userStdin io.Reader = os.Stdin

const userUsage = `Usage:
  herald user add [--user-id ID] [settings] USERNAME
                                 create an account; the password is read from
                                 HERALD_PASSWORD, --password-file or the first
                                 line of standard input (never a flag)
  herald user remove [settings] USERNAME   delete an account and end its sessions
  herald user disable [settings] USERNAME  refuse its logins and close its sockets
  herald user enable [settings] USERNAME   allow it again
  herald user list [settings]              list accounts
The store is the server's: HERALD_DB_PATH or DATABASE_URL (see herald help).
`

// userCmd manages the accounts of the credential login (/auth/login).
func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, userUsage)
		return errors.New("user needs a subcommand: add, remove, disable, enable or list")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "remove", "disable", "enable", "list":
	default:
		fmt.Fprint(stderr, userUsage)
		return fmt.Errorf("unknown user subcommand %q: want add, remove, disable, enable or list", sub)
	}
	fs := flag.NewFlagSet("herald user "+sub, flag.ContinueOnError)
	out := helpOutput(args, stdout, stderr)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprint(out, userUsage) }
	userID := fs.String("user-id", "", "user id the account's tokens carry (default: the username)")
	pwFile := fs.String("password-file", "", "file whose first line is the password")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	rest := fs.Args()
	if sub == "list" {
		if len(rest) != 0 {
			return errors.New("user list takes no arguments")
		}
	} else if len(rest) != 1 {
		return fmt.Errorf("user %s needs one USERNAME (flags before it)", sub)
	}

	store, closeStore, err := openAccounts(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer closeStore()
	ttl := cfg.Auth.AccessTTL
	switch sub {
	case "add":
		pw, err := readPassword(getenv, *pwFile, rest[0], stderr)
		if err != nil {
			return err
		}
		a, err := auth.CreateAccount(ctx, store, rest[0], *userID, pw, auth.Params{})
		if err != nil {
			return userError(err)
		}
		fmt.Fprintf(stdout, "account %s created (user id %s)\n", a.Username, a.UserID)
	case "remove":
		if err := auth.RemoveAccount(ctx, store, rest[0], ttl); err != nil {
			return userError(err)
		}
		fmt.Fprintf(stdout, "account %s removed; its sessions are revoked\n", rest[0])
	case "disable", "enable":
		if err := auth.DisableAccount(ctx, store, rest[0], sub == "disable", ttl); err != nil {
			return userError(err)
		}
		fmt.Fprintf(stdout, "account %s %sd\n", rest[0], sub)
	case "list":
		list, err := store.ListAccounts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tUSER ID\tSTATUS\tCREATED")
		for _, a := range list {
			status := "active"
			if a.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Username, a.UserID, status, herald.FormatTime(a.CreatedAt))
		}
		return tw.Flush()
	}
	return nil
}

// userError words a store error for the terminal.
func userError(err error) error {
	if herald.CodeOf(err) == herald.EINTERNAL {
		return err
	}
	return errors.New(herald.ErrorMessage(err))
}

// openAccounts opens the server's store for account management.
func openAccounts(ctx context.Context, cfg StoreConfig) (herald.AccountStore, func(), error) {
	if u := cfg.DatabaseURL; u != "" {
		s, err := postgres.Open(ctx, postgres.Config{URL: u})
		if err != nil {
			return nil, nil, fmt.Errorf("opening the store: %w", err)
		}
		return s, func() { s.Close() }, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.DBPath, UnreadCounts: -1}) // no counts: a server may hold the file
	if err != nil {
		return nil, nil, fmt.Errorf("opening the store: %w", err)
	}
	return s, func() { s.Close() }, nil
}

// readPassword takes the new password from HERALD_PASSWORD, a file, or
// standard input, never from a flag, which other users of the machine could
// read in the process list. At a terminal it prompts on w and reads without
// echo, twice, so that neither the screen nor a typo keeps the password;
// from a pipe it reads the first line.
func readPassword(getenv func(string) string, file, username string, w io.Writer) (string, error) {
	if pw := getenv("HERALD_PASSWORD"); pw != "" {
		return pw, nil
	}
	var r io.Reader = userStdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		r = f
	} else if f, ok := userStdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), username, w)
	}
	line, err := bufio.NewReader(io.LimitReader(r, herald.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password: set HERALD_PASSWORD, use --password-file, or type it on standard input")
	}
	return pw, nil
}

// promptPassword asks for the password at the terminal fd with echo off.
func promptPassword(fd int, username string, w io.Writer) (string, error) {
	ask := func(prompt string) (string, error) {
		fmt.Fprint(w, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(b), nil
	}
	pw, err := ask("Password for " + username + ": ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("no password given")
	}
	again, err := ask("Again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}
