package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/heraldhq/herald"
)

const deviceUsage = `Usage:
  herald device list --user ID [settings]            list a user's mobile devices
  herald device add --user ID --platform fcm|apns [--app-id BUNDLE] [settings] TOKEN
                                                     register a device token for the user
  herald device remove --user ID [settings] DEVICE_ID  remove one of the user's devices
The store is the server's: HERALD_DB_PATH or DATABASE_URL (see herald help).
Listed tokens are shortened; the full token is never printed.
`

// deviceCmd manages users' mobile push devices in the server's store, as
// /api/users/{userId}/devices does over HTTP.
func deviceCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, deviceUsage)
		return errors.New("device needs a subcommand: list, add or remove")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("herald device "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, deviceUsage) }
	user := fs.String("user", "", "the user id (required)")
	platform := fs.String("platform", "", "fcm or apns (add)")
	appID := fs.String("app-id", "", "the app's bundle id or package name (add; empty: the configured one)")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	rest := fs.Args()
	if err := herald.CheckUserID("--user", *user); err != nil {
		return errors.New(herald.ErrorMessage(err))
	}
	want := map[string]int{"list": 0, "add": 1, "remove": 1}
	n, ok := want[sub]
	if !ok {
		fmt.Fprint(stderr, deviceUsage)
		return fmt.Errorf("unknown device subcommand %q", sub)
	}
	if len(rest) != n {
		return fmt.Errorf("device %s takes %d argument(s) after the flags, got %d", sub, n, len(rest))
	}
	st, closeStore, err := openAccounts(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer closeStore()
	devices, ok := st.(herald.DeviceStore)
	if !ok {
		return errors.New("this store keeps no devices")
	}
	switch sub {
	case "list":
		ds, err := devices.FindDevices(ctx, *user)
		if err != nil {
			return userError(err)
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tPLATFORM\tAPP\tTOKEN\tCREATED")
		for _, d := range ds {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", d.ID, d.Platform, orDash(d.AppID), shortToken(d.Token), herald.FormatTime(d.Created))
		}
		return w.Flush()
	case "add":
		d := &herald.Device{UserID: *user, Platform: herald.Platform(*platform), Token: rest[0], AppID: *appID}
		if err := devices.SaveDevice(ctx, d); err != nil {
			return userError(err)
		}
		fmt.Fprintf(stdout, "device %s added for %s (%s)\n", d.ID, d.UserID, d.Platform)
	case "remove":
		if err := devices.DeleteDevice(ctx, *user, rest[0]); err != nil {
			return userError(err)
		}
		fmt.Fprintf(stdout, "device %s removed\n", rest[0])
	}
	return nil
}

// shortToken shows enough of a device token to tell devices apart.
func shortToken(t string) string {
	if len(t) <= 12 {
		return strings.Repeat("*", len(t))
	}
	return t[:8] + "…" + t[len(t)-4:]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
