package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/heraldhq/herald/webpush"
)

// vapidCmd prints a new VAPID key pair for web push, as settings lines: the
// public key goes to browsers (GET /api/push/key serves it), the private key
// stays with the servers. Changing the pair invalidates every subscription.
func vapidCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald vapid", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: herald vapid\n\nPrints a new web push key pair as VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY lines.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("vapid takes no arguments")
	}
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		return fmt.Errorf("generating VAPID keys: %w", err)
	}
	fmt.Fprintf(stdout, "VAPID_PUBLIC_KEY=%s\nVAPID_PRIVATE_KEY=%s\n", pub, priv)
	return nil
}
