package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
)

// defaultServerURL is where the helpers find a server started with the
// defaults on this machine.
const defaultServerURL = "http://localhost:3007"

// sendCmd creates one notification through the server API and prints the
// stored notification, so a newcomer can watch it arrive in `herald tail`.
func sendCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald send", flag.ContinueOnError)
	fs.SetOutput(helpOutput(args, stdout, stderr))
	user := fs.String("user", "", "user id the notification is for (required)")
	title := fs.String("title", "", "title (required)")
	message := fs.String("message", "", "message text")
	typ := fs.String("type", "info", "notification type, e.g. trip_update")
	link := fs.String("link", "", "link the notification points to")
	data := fs.String("data", "", "JSON object of extra data")
	key := fs.String("idempotency-key", "", "makes a retried send create the notification once")
	server := fs.String("url", envOr(getenv, "HERALD_URL", defaultServerURL), "server URL (env HERALD_URL)")
	apiKey := fs.String("api-key", "", "server API key (default: env HERALD_API_KEY)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *apiKey == "" {
		*apiKey = getenv("HERALD_API_KEY") // not the flag's default, which --help would print
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("send takes flags only, got %q", fs.Arg(0))
	case *user == "" || *title == "":
		return errors.New("send needs --user and --title")
	case *apiKey == "":
		return errors.New("send needs the server's API key: --api-key or HERALD_API_KEY")
	}
	base, err := serverHTTPURL(*server)
	if err != nil {
		return err
	}
	n := client.NewNotification{UserID: *user, Type: *typ, Title: *title, Message: *message, Link: *link, IdempotencyKey: *key}
	if *data != "" {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(*data), &obj) != nil || obj == nil {
			return errors.New("--data must be a JSON object")
		}
		n.Data = json.RawMessage(*data)
	}
	api, err := client.NewAPI(client.APIConfig{URL: base, Auth: client.StaticToken(*apiKey)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stored, err := api.CreateNotification(ctx, n)
	if err != nil {
		return err
	}
	out, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// serverHTTPURL turns a server URL given as http(s)://host[:port] or
// ws(s)://host[:port]/ws into the HTTP API's base URL.
func serverHTTPURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid server URL %q: want http://host:port", s)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("invalid server URL %q: want http://host:port", s)
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/ws")
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// serverWSURL turns a server URL into its WebSocket endpoint, ws(s)://host/ws.
func serverWSURL(s string) (string, error) {
	base, err := serverHTTPURL(s)
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/ws", nil
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/ws", nil
}
