package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Inbox is a user's inbox over the REST API, authenticated with the user's
// own token. A Client embeds one for its user; NewInbox makes one without a
// WebSocket connection.
type Inbox struct {
	rest rest
	ts   TokenSource
}

// NewInbox returns the inbox of the user ts gives tokens for; baseURL is
// the server's HTTP base, e.g. http://localhost:3007. hc may be nil.
func NewInbox(baseURL string, ts TokenSource, hc *http.Client) *Inbox {
	return &Inbox{rest: newRest(baseURL, hc), ts: ts}
}

func (in *Inbox) call(ctx context.Context, method, path string, out any) error {
	return withToken(ctx, in.ts, func(tok string) error {
		return in.rest.call(ctx, method, path, tok, nil, nil, out)
	})
}

// ListOptions selects a page of the inbox, newest first.
type ListOptions struct {
	// Limit is the page size, 1 to 100 (0: the server's default, 20).
	Limit int
	// Before is the cursor of the next page: the NextCursor of the previous
	// one (0: from the newest).
	Before int64
	// UnreadOnly lists unread notifications only.
	UnreadOnly bool
}

// Page is one page of the inbox.
type Page struct {
	Notifications []Notification `json:"notifications"`
	// NextCursor is the Before of the next page; 0 on the last page.
	NextCursor  int64 `json:"-"`
	UnreadCount int   `json:"unreadCount"`
}

// List returns a page of the user's notifications, newest first.
func (in *Inbox) List(ctx context.Context, o ListOptions) (*Page, error) {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Before > 0 {
		q.Set("before", strconv.FormatInt(o.Before, 10))
	}
	if o.UnreadOnly {
		q.Set("unread", "true")
	}
	path := "/api/notifications"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Page
		Next *string `json:"nextCursor"`
	}
	if err := in.call(ctx, "GET", path, &out); err != nil {
		return nil, err
	}
	if out.Next != nil {
		n, err := strconv.ParseInt(*out.Next, 10, 64)
		if err != nil {
			return nil, &Error{Type: ErrServer, Message: "the server sent an invalid nextCursor"}
		}
		out.Page.NextCursor = n
	}
	return &out.Page, nil
}

// UnreadCount returns the user's exact number of unread notifications.
func (in *Inbox) UnreadCount(ctx context.Context) (int, error) {
	var out struct {
		Count int `json:"count"`
	}
	err := in.call(ctx, "GET", "/api/notifications/unread-count", &out)
	return out.Count, err
}

// MarkRead marks one notification read. Every connection of the user,
// this client's included, then gets notification:read and the new unread
// count. Another user's or an unknown id is a not_found *Error.
func (in *Inbox) MarkRead(ctx context.Context, id string) error {
	return in.call(ctx, "POST", "/api/notifications/"+url.PathEscape(id)+"/read", nil)
}

// MarkAllRead marks every notification read and returns how many changed.
func (in *Inbox) MarkAllRead(ctx context.Context) (int, error) {
	var out struct {
		Updated int `json:"updated"`
	}
	err := in.call(ctx, "POST", "/api/notifications/read-all", &out)
	return out.Updated, err
}

// Delete removes one notification from the inbox.
func (in *Inbox) Delete(ctx context.Context, id string) error {
	return in.call(ctx, "DELETE", "/api/notifications/"+url.PathEscape(id), nil)
}
