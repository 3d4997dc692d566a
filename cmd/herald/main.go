// Command herald runs the Herald notification service and its helpers.
//
//	herald [serve] [flags]   run the server (the default command)
//	herald token --user ID   print a connection token signed with JWT_SECRET
//	herald user add NAME     manage the accounts of the credential login
//	herald help              list every setting with its default
//
// cmd/herald is the only package that reads configuration and wires the
// others together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "herald:", cliMessage(err))
			os.Exit(1)
		}
	}
}

// run dispatches to a subcommand; it is main without the process globals, so
// tests can run the real program in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCmd(ctx, args, getenv, stdout, stderr)
	case "token":
		return tokenCmd(args, getenv, stdout, stderr)
	case "user":
		return userCmd(ctx, args, getenv, stdout, stderr)
	case "send":
		return sendCmd(ctx, args, getenv, stdout, stderr)
	case "tail":
		return tailCmd(ctx, args, getenv, stdout, stderr)
	case "vapid":
		return vapidCmd(args, stdout, stderr)
	case "help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q (herald help lists the commands)", cmd)
}

// helpOutput is where a command's flag package writes: stdout when args ask
// for help (-h, -help, --help), since help asked for is the answer, not an
// error; stderr otherwise, for the usage after a mistake.
func helpOutput(args []string, stdout, stderr io.Writer) io.Writer {
	for _, a := range args {
		switch a {
		case "--":
			return stderr
		case "-h", "-help", "--help", "--h":
			return stdout
		}
	}
	return stderr
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Herald: real-time notifications over WebSocket, with a durable inbox.

Usage:
  herald [serve] [flags]          run the server (default)
  herald token --user ID [--ttl]  print a connection token signed with JWT_SECRET
  herald user add|remove|disable|enable|list
                                  manage the accounts of /auth/login (herald user for help)
  herald send --user ID --title T [--message M] [--type] [--link] [--url] [--api-key]
                                  create a notification through the server API
  herald tail --user ID [--url] [--token|--jwt-secret] [--since SEQ]
                                  print what a user's socket receives, one JSON line each
  herald vapid                    print a new web push key pair (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY)
  herald help                     this text

Settings (flag, environment variable, default). Flags win over the environment,
which wins over the --config file (KEY=VALUE lines), which wins over defaults:
`)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%-26s %-28s %s\n      %s\n", s.flag, s.env, def, s.help)
	}
}
