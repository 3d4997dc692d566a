package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald"
)

// sseLink is a Server-Sent Events stream from GET /sse, with what the client
// sends POSTed to /sse/{stream}/messages (docs/protocol.md).
type sseLink struct {
	c      *Client
	body   io.ReadCloser
	er     *eventReader
	cancel context.CancelFunc // ends the GET
	detach func() bool        // frees the GET from the dial's deadline

	mu     sync.Mutex
	post   string // the stream's messages URL, known from the greeting
	bearer string // the token POSTs carry: the latest one sent in-band
}

// dialSSE opens the stream for s: the token in the Authorization header (or
// the query with AuthQuery), the resume point as Last-Event-ID, the channels
// to restore as ?channel=. A refusal before the stream starts is typed from
// its status and JSON body as a REST error is.
func (c *Client) dialSSE(dctx context.Context, s *session, since int64, known bool) *Error {
	u, err := url.Parse(c.opts.SSEURL)
	if err != nil {
		return &Error{Type: ErrServer, Message: "invalid SSEURL", Err: err}
	}
	q := u.Query()
	for _, ch := range c.subscribedChannels() {
		q.Add("channel", ch)
	}
	tok := s.token.Value
	if c.opts.Auth == AuthQuery {
		q.Set("token", tok)
		q.Set("userId", c.opts.UserID)
	}
	u.RawQuery = q.Encode()

	// The stream outlives the dial: its request is cancelled with the dial's
	// context only until the greeting is in.
	rctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(dctx, cancel)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return &Error{Type: ErrServer, Message: "building the SSE request", Err: scrub(err, tok)}
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.opts.Auth != AuthQuery {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if known {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(since, 10))
	}
	resp, err := c.streamHTTP().Do(req)
	if err != nil {
		cancel()
		return &Error{Type: ErrNetwork, Message: "connecting (SSE)", Err: scrub(stripURL(err), tok)}
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		e := responseError(resp, data, "GET /sse")
		if e.Type == ErrAuthentication {
			c.invalidate(dctx, tok)
		}
		return e
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		return &Error{Type: ErrNetwork, Status: resp.StatusCode, Message: "the SSE URL did not answer with text/event-stream"}
	}
	l := &sseLink{c: c, body: resp.Body, cancel: cancel, detach: stop, bearer: tok}
	l.er = newEventReader(resp.Body, int(c.opts.ReadLimit))
	l.er.onComment = s.touch
	s.link, s.transport = l, TransportSSE
	return nil
}

// streamHTTP is Options.HTTPClient without its overall timeout, which would
// end a stream that is meant to last.
func (c *Client) streamHTTP() *http.Client {
	if c.opts.HTTPClient == nil {
		return http.DefaultClient
	}
	hc := *c.opts.HTTPClient
	hc.Timeout = 0
	return &hc
}

// greeted takes the stream id from the greeting and frees the stream from
// the dial's deadline.
func (l *sseLink) greeted(stream string) {
	l.detach()
	base, _ := url.Parse(l.c.opts.SSEURL)
	base.RawQuery = ""
	base.Path += "/" + url.PathEscape(stream) + "/messages"
	l.mu.Lock()
	l.post = base.String()
	l.mu.Unlock()
}

// closeEvent is the data of the final "close" event.
type closeEvent struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (l *sseLink) read(ctx context.Context) ([]byte, error) {
	stop := context.AfterFunc(ctx, l.cancel)
	defer stop()
	ev, err := l.er.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // a stream ends with a close event
		}
		return nil, err
	}
	if ev.Event == "close" {
		var ce closeEvent
		if json.Unmarshal(ev.Data, &ce) != nil || ce.Code == 0 {
			ce.Code = herald.CloseServerError
		}
		l.closeNow()
		return nil, websocket.CloseError{Code: websocket.StatusCode(ce.Code), Reason: ce.Reason}
	}
	return ev.Data, nil
}

// write POSTs one client message for the stream with the latest token; an
// in-band token refresh makes its token the one later POSTs carry.
func (l *sseLink) write(ctx context.Context, data []byte) error {
	l.mu.Lock()
	post, bearer := l.post, l.bearer
	l.mu.Unlock()
	if post == "" {
		return &Error{Type: ErrNetwork, Message: "the stream has not been greeted"}
	}
	var auth struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	}
	if json.Unmarshal(data, &auth) == nil && auth.Type == herald.TypeAuth && auth.Token != "" {
		bearer = auth.Token
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, post, bytes.NewReader(data))
	if err != nil {
		return &Error{Type: ErrServer, Message: "building the POST", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	hc := l.c.opts.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &Error{Type: ErrNetwork, Message: "POST to the stream", Err: scrub(stripURL(err), bearer)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusAccepted {
		return responseError(resp, body, "POST /sse/{stream}/messages")
	}
	if auth.Type == herald.TypeAuth && auth.Token != "" {
		l.mu.Lock()
		l.bearer = auth.Token
		l.mu.Unlock()
	}
	return nil
}

func (l *sseLink) closeNormally() { l.closeNow() }

func (l *sseLink) closeNow() {
	l.cancel()
	_ = l.body.Close()
}
