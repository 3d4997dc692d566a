package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhq/herald"
)

// API is Herald's server API, for backends: create notifications, raise
// domain events, push messages to users, channels or everyone, read stats
// and mint connection tokens. It authenticates with the API key
// (StaticToken(key)) or an access token (a LoginTokenSource).
type API struct {
	rest rest
	auth TokenSource
}

// APIConfig configures an API.
type APIConfig struct {
	// URL is the server's HTTP base URL, e.g. http://localhost:3007 (required).
	URL string
	// Auth gives the bearer token: StaticToken(apiKey), or a
	// LoginTokenSource (required).
	Auth TokenSource
	// HTTPClient makes the requests (default: a client with a 30s timeout).
	HTTPClient *http.Client
}

// NewAPI returns an API for cfg.
func NewAPI(cfg APIConfig) (*API, error) {
	if cfg.URL == "" || cfg.Auth == nil {
		return nil, &Error{Type: ErrServer, Message: "APIConfig needs URL and Auth"}
	}
	if _, err := url.Parse(cfg.URL); err != nil {
		return nil, &Error{Type: ErrServer, Message: "invalid URL", Err: err}
	}
	return &API{rest: newRest(cfg.URL, cfg.HTTPClient), auth: cfg.Auth}, nil
}

func (a *API) call(ctx context.Context, method, path string, hdr http.Header, body, out any) error {
	return withToken(ctx, a.auth, func(tok string) error {
		return a.rest.call(ctx, method, path, tok, hdr, body, out)
	})
}

// NewNotification is a notification to create.
type NewNotification struct {
	// ID is an optional id chosen by the caller.
	ID      string          `json:"id,omitempty"`
	UserID  string          `json:"userId"`
	Type    string          `json:"type"`
	Title   string          `json:"title"`
	Message string          `json:"message,omitempty"`
	Link    string          `json:"link,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	// IdempotencyKey makes a retried create return the first result
	// instead of creating the notification twice. Left empty, the API
	// makes one up for the call, so its own retries are safe; give one to
	// make your retries (of a job, a queue message) safe too.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// CreateNotification stores n in its user's inbox and pushes it to the
// user's connections; it returns the stored notification. It sends n with
// an idempotency key (n's, or a new one) in the Idempotency-Key header and
// retries a create that failed on the way (see CreateAttempts) with the
// same key, so a create whose answer was lost is stored once.
func (a *API) CreateNotification(ctx context.Context, n NewNotification) (*Notification, error) {
	if n.IdempotencyKey == "" {
		n.IdempotencyKey = newIdempotencyKey()
	}
	var out Notification
	hdr := http.Header{"Idempotency-Key": {n.IdempotencyKey}}
	if err := a.createWithRetry(ctx, n, hdr, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateNotifications stores a batch in one transaction and returns the
// stored notifications in order. Items without an idempotency key get one,
// and a batch that failed on the way is retried as CreateNotification is.
func (a *API) CreateNotifications(ctx context.Context, ns []NewNotification) ([]Notification, error) {
	var out struct {
		Notifications []Notification `json:"notifications"`
	}
	keyed := make([]NewNotification, len(ns))
	for i, n := range ns {
		if n.IdempotencyKey == "" {
			n.IdempotencyKey = newIdempotencyKey()
		}
		keyed[i] = n
	}
	body := struct {
		Notifications []NewNotification `json:"notifications"`
	}{keyed}
	if err := a.createWithRetry(ctx, body, nil, &out); err != nil {
		return nil, err
	}
	return out.Notifications, nil
}

// Event is a domain event, such as "booking:confirmed", that the server's
// templates turn into notifications. ID, when set, makes a redelivered event
// create nothing new.
type Event struct {
	ID   string         `json:"id,omitempty"`
	Name string         `json:"event"`
	Data map[string]any `json:"data"`
}

// RaiseEvent sends e to POST /api/events and returns the notifications it
// created.
func (a *API) RaiseEvent(ctx context.Context, e Event) ([]Notification, error) {
	var out struct {
		Notifications []Notification `json:"notifications"`
	}
	if err := a.call(ctx, "POST", "/api/events", nil, e, &out); err != nil {
		return nil, err
	}
	return out.Notifications, nil
}

// SendToUser delivers msg, any JSON object, to the user's open connections
// as it is, without storing it. It returns how many local connections took it.
func (a *API) SendToUser(ctx context.Context, userID string, msg any) (int, error) {
	return a.deliver(ctx, "/api/users/"+url.PathEscape(userID)+"/messages", msg)
}

// SendToChannel delivers msg to the subscribers of channel.
func (a *API) SendToChannel(ctx context.Context, channel string, msg any) (int, error) {
	ch, err := herald.ParseChannel(channel)
	if err != nil {
		return 0, &Error{Type: ErrServer, Code: string(herald.EINVALID), Message: "Invalid channel name"}
	}
	return a.deliver(ctx, "/api/channels/"+url.PathEscape(ch)+"/messages", msg)
}

// Broadcast delivers msg to every connection; except, when not empty, names
// a user left out.
func (a *API) Broadcast(ctx context.Context, msg any, except string) (int, error) {
	path := "/api/broadcast"
	if except != "" {
		path += "?exclude=" + url.QueryEscape(except)
	}
	return a.deliver(ctx, path, msg)
}

func (a *API) deliver(ctx context.Context, path string, msg any) (int, error) {
	var out struct {
		Delivered int `json:"delivered"`
	}
	if err := a.call(ctx, "POST", path, nil, msg, &out); err != nil {
		return 0, err
	}
	return out.Delivered, nil
}

// Stats is a node's connection figures.
type Stats struct {
	TotalConnections int            `json:"totalConnections"`
	TotalUsers       int            `json:"totalUsers"`
	ChannelCounts    map[string]int `json:"channelCounts"`
	Timestamp        time.Time      `json:"timestamp"`
}

// Stats returns the connection figures of the node that answers.
func (a *API) Stats(ctx context.Context) (*Stats, error) {
	var out Stats
	if err := a.call(ctx, "GET", "/api/stats", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConnectionTokenRequest asks for a connection token for an end user.
type ConnectionTokenRequest struct {
	UserID string
	// TTL is the token's lifetime (0: the server's default, 15 minutes).
	TTL time.Duration
	// Channels are private channels the token grants.
	Channels []string
}

// ConnectionToken mints a short-lived connection token for an end user
// with POST /api/tokens, for a browser or device to open /ws with.
func (a *API) ConnectionToken(ctx context.Context, req ConnectionTokenRequest) (Token, error) {
	body := struct {
		UserID   string   `json:"userId"`
		TTL      int64    `json:"ttl,omitempty"`
		Channels []string `json:"channels,omitempty"`
	}{UserID: req.UserID, TTL: int64(req.TTL / time.Second), Channels: req.Channels}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
		ExpiresIn int64     `json:"expiresIn"`
		UserID    string    `json:"userId"`
	}
	if err := a.call(ctx, "POST", "/api/tokens", nil, body, &out); err != nil {
		return Token{}, err
	}
	if out.Token == "" {
		return Token{}, &Error{Type: ErrServer, Message: "POST /api/tokens answered without a token"}
	}
	return Token{Value: out.Token, UserID: out.UserID,
		ExpiresAt: expiryOf(time.Now(), out.ExpiresIn, out.Token, out.ExpiresAt)}, nil
}
