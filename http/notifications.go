package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
)

// Page sizes of GET /api/notifications.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// createInput is the body of POST /api/notifications: one notification, or a
// batch under "notifications" (which then wins over any top-level fields).
// Both decode straight into the create request, which the inbox validates.
type createInput struct {
	herald.NewNotification
	Notifications *[]*batchItem `json:"notifications"`
}

// batchItem is one notification of a batch: its names are checked as the
// body's are (see checkNames), since each item names a user.
type batchItem herald.NewNotification

// UnmarshalJSON refuses an item naming a member twice, then decodes it.
func (b *batchItem) UnmarshalJSON(data []byte) error {
	if err := checkNames(data); err != nil {
		return err
	}
	return json.Unmarshal(data, (*herald.NewNotification)(b))
}

// notificationsResponse answers a batch create and an event.
type notificationsResponse struct {
	Notifications []*herald.Notification `json:"notifications"`
}

// encodedResponse is a notificationsResponse of notifications already
// encoded.
type encodedResponse struct {
	Notifications []json.RawMessage `json:"notifications"`
}

// normalizeData stores data as compact JSON, and a JSON null as none, so that
// what is stored is what a client reads back byte for byte.
func normalizeData(n *herald.NewNotification) error {
	if len(n.Data) == 0 || bytes.Equal(n.Data, []byte("null")) {
		n.Data = nil
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, n.Data); err != nil {
		return herald.Errorf(herald.EINVALID, "data is not valid JSON")
	}
	n.Data = buf.Bytes()
	return nil
}

// handleCreateNotifications stores one notification (201 with it) or a batch
// (201 with {"notifications":[...]}) and pushes each to its user. A retry with
// a known idempotency key (the Idempotency-Key header, or each batch item's
// idempotencyKey) creates nothing and answers 200 with what was stored first.
func (s *Server) handleCreateNotifications(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBatchBodyBytes)
	if err != nil {
		return err
	}
	var in createInput
	if err := decodeObject(body, &in, false); err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")

	if in.Notifications == nil {
		if int64(len(body)) > s.cfg.MaxBodyBytes {
			return tooLarge(s.cfg.MaxBodyBytes)
		}
		if key != "" {
			in.IdempotencyKey = key
		}
		n := &in.NewNotification
		if err := normalizeData(n); err != nil {
			return err
		}
		res, err := s.create(r, []*herald.NewNotification{n})
		if err != nil {
			return err
		}
		if b := res[0].Encoded; b != nil { // as the socket message has it
			writeEncoded(w, createdStatus(res), b)
		} else {
			writeJSON(w, createdStatus(res), res[0].Notification)
		}
		return nil
	}

	items := *in.Notifications
	switch {
	case key != "":
		return herald.Errorf(herald.EINVALID, "Idempotency-Key applies to a single notification; give each batch item an idempotencyKey")
	case len(items) == 0:
		return herald.Errorf(herald.EINVALID, "notifications must not be empty")
	case len(items) > MaxBatch:
		return herald.Errorf(herald.ETOOLARGE, "notifications holds more than %d items", MaxBatch)
	}
	ns := make([]*herald.NewNotification, len(items))
	for i, item := range items {
		n := (*herald.NewNotification)(item)
		if n == nil {
			return herald.Errorf(herald.EINVALID, "notifications[%d]: notification is null", i)
		}
		ns[i] = n
		if err := normalizeData(n); err != nil {
			return herald.Errorf(herald.CodeOf(err), "notifications[%d]: %s", i, herald.ErrorMessage(err))
		}
	}
	res, err := s.create(r, ns)
	if err != nil {
		return err
	}
	if enc, ok := encoded(res); ok {
		writeJSON(w, createdStatus(res), encodedResponse{Notifications: enc})
	} else {
		writeJSON(w, createdStatus(res), notificationsResponse{Notifications: stored(res)})
	}
	return nil
}

// create stores ns through the Inbox and checks it answered one per request.
func (s *Server) create(r *http.Request, ns []*herald.NewNotification) ([]herald.Created, error) {
	res, err := s.cfg.Inbox.Create(r.Context(), ns)
	if err != nil {
		return nil, err
	}
	if len(res) != len(ns) {
		return nil, herald.Errorf(herald.EINTERNAL, "inbox returned %d notifications for %d", len(res), len(ns))
	}
	return res, nil
}

// encoded returns the notifications of res as the inbox encoded them, and
// false when any was not (a replay, a silent one).
func encoded(res []herald.Created) ([]json.RawMessage, bool) {
	out := make([]json.RawMessage, len(res))
	for i, c := range res {
		if out[i] = c.Encoded; out[i] == nil {
			return nil, false
		}
	}
	return out, true
}

// stored returns the notifications of res, never nil.
func stored(res []herald.Created) []*herald.Notification {
	out := make([]*herald.Notification, len(res))
	for i, c := range res {
		out[i] = c.Notification
	}
	return out
}

// createdStatus is 200 when every notification was an idempotent replay, and
// 201 when the request created anything.
func createdStatus(res []herald.Created) int {
	if len(res) == 0 {
		return http.StatusCreated
	}
	for _, c := range res {
		if !c.Replayed {
			return http.StatusCreated
		}
	}
	return http.StatusOK
}

// handleListNotifications answers a page of the user's notifications, newest
// first: ?limit= (1 to MaxPageSize, default DefaultPageSize), ?before=<seq>
// (the nextCursor of the previous page) and ?unread=true.
func (s *Server) handleListNotifications(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	q := r.URL.Query()
	f := herald.NotificationFilter{UserID: c.UserID, Limit: DefaultPageSize}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return herald.Errorf(herald.EINVALID, "limit must be an integer from 1 to %d", MaxPageSize)
		}
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return herald.Errorf(herald.EINVALID, "before must be a positive seq, as given by nextCursor")
		}
		f.Before = n
	}
	if v := q.Get("unread"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return herald.Errorf(herald.EINVALID, "unread must be true or false")
		}
		f.UnreadOnly = b
	}

	page := f.Limit
	f.Limit++ // one more than the page tells whether another page follows
	ns, err := s.cfg.Inbox.List(r.Context(), f)
	if err != nil {
		return err
	}
	u, err := s.cfg.Inbox.UnreadCount(r.Context(), c.UserID)
	if err != nil {
		return err
	}
	resp := notificationPage{Notifications: ns, UnreadCount: u.Count, UnreadVersion: u.Version}
	if len(ns) > page {
		resp.Notifications = ns[:page]
		next := strconv.FormatInt(ns[page-1].Seq, 10)
		resp.NextCursor = &next
	}
	body, err := resp.encode()
	if err != nil {
		return err
	}
	writeEncoded(w, http.StatusOK, body)
	return nil
}

// notificationPage is the answer to GET /api/notifications.
type notificationPage struct {
	Notifications []*herald.Notification `json:"notifications"`
	NextCursor    *string                `json:"nextCursor"` // null on the last page
	UnreadCount   int                    `json:"unreadCount"`
	UnreadVersion int64                  `json:"unreadVersion"`
}

// encode returns p's JSON, the bytes json.Marshal gives (an empty list as
// []), with each notification encoded by its own MarshalJSON: json.Marshal
// would check and copy each one's output again, as much work again as
// encoding it (TestNotificationPageEncodes holds the two equal).
func (p notificationPage) encode() ([]byte, error) {
	b := make([]byte, 0, 96+384*len(p.Notifications))
	b = append(b, `{"notifications":[`...)
	for i, n := range p.Notifications {
		if i > 0 {
			b = append(b, ',')
		}
		if n == nil {
			b = append(b, "null"...)
			continue
		}
		one, err := n.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, one...)
	}
	b = append(b, `],"nextCursor":`...)
	if p.NextCursor == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendQuote(b, *p.NextCursor) // digits only
	}
	b = append(b, `,"unreadCount":`...)
	b = strconv.AppendInt(b, int64(p.UnreadCount), 10)
	b = append(b, `,"unreadVersion":`...)
	b = strconv.AppendInt(b, p.UnreadVersion, 10)
	return append(b, '}'), nil
}

// handleUnreadCount answers {"count":N,"version":V}.
func (s *Server) handleUnreadCount(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	u, err := s.cfg.Inbox.UnreadCount(r.Context(), c.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// handleMarkRead marks one of the user's notifications read. Another user's
// notification is not found.
func (s *Server) handleMarkRead(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	id := r.PathValue("id")
	if err := checkNotificationID("id", id); err != nil {
		return err
	}
	if _, err := s.cfg.Inbox.MarkRead(r.Context(), c.UserID, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		ID   string `json:"id"`
		Read bool   `json:"read"`
	}{id, true})
	return nil
}

// handleMarkAllRead marks all the user's notifications read: {"updated":N}.
func (s *Server) handleMarkAllRead(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	n, _, err := s.cfg.Inbox.MarkAllRead(r.Context(), c.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Updated int `json:"updated"`
	}{n})
	return nil
}

// handleDeleteNotification deletes one of the user's notifications: 204.
func (s *Server) handleDeleteNotification(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	id := r.PathValue("id")
	if err := checkNotificationID("id", id); err != nil {
		return err
	}
	if _, err := s.cfg.Inbox.Delete(r.Context(), c.UserID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
