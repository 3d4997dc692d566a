package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds the answers the client reads.
const maxResponseBytes = 8 << 20

// rest calls Herald's HTTP API at base (http://host:port, no trailing slash).
type rest struct {
	base string
	http *http.Client
}

// defaultHTTPClient is used when the caller gives none: a timeout, so a
// dead server cannot hang a request for ever.
var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

func newRest(base string, hc *http.Client) rest {
	if hc == nil {
		hc = defaultHTTPClient
	}
	return rest{base: strings.TrimRight(base, "/"), http: hc}
}

// call sends a request with body encoded as JSON (none when nil) and the
// bearer token (none when ""), and decodes a 2xx answer into out (when not
// nil). Any other answer is an *Error built from the body's
// {"error":{"code","message"}}.
func (r rest) call(ctx context.Context, method, path, bearer string, hdr http.Header, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return &Error{Type: ErrServer, Message: "encoding the request body", Err: err}
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return &Error{Type: ErrServer, Message: "building the request", Err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return &Error{Type: ErrNetwork, Message: method + " " + path, Err: stripURL(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &Error{Type: ErrNetwork, Status: resp.StatusCode, Message: "reading the answer to " + method + " " + path, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp, data, method+" "+path)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return &Error{Type: ErrServer, Status: resp.StatusCode, Message: "decoding the answer to " + method + " " + path, Err: err}
		}
	}
	return nil
}

// responseError turns a failed HTTP answer into an *Error: 401 is an
// authentication failure, 408, 429 and 5xx are worth a retry (network),
// anything else is the server refusing the request.
func responseError(resp *http.Response, body []byte, what string) *Error {
	e := &Error{Type: ErrServer, Status: resp.StatusCode}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
	} else {
		e.Message = fmt.Sprintf("%s answered %s", what, resp.Status)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.Type = ErrAuthentication
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		e.Type = ErrNetwork
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// stripURL drops the URL from a *url.Error: a request URL never holds a
// token here, but the error reads better without the repetition.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// withToken calls f with a token from ts, and once more with a fresh one
// when the server answers 401, after invalidating the refused token.
func withToken(ctx context.Context, ts TokenSource, f func(token string) error) error {
	for attempt := 0; ; attempt++ {
		tok, err := ts.Token(ctx)
		if err != nil {
			return asError(err, ErrNetwork, "getting a token")
		}
		err = f(tok.Value)
		if !IsAuthentication(err) || attempt == 1 {
			return err
		}
		_ = ts.Invalidate(ctx, tok.Value)
	}
}

// asError returns err as an *Error, wrapping errors of other kinds with
// type t.
func asError(err error, t ErrorType, msg string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t = ErrNetwork
	}
	return &Error{Type: t, Message: msg, Err: err}
}

// httpBase derives the HTTP API's base URL from the WebSocket URL:
// ws://host:3007/ws becomes http://host:3007.
func httpBase(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "http"
	case "wss", "https":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("URL scheme must be ws or wss, got %q", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("URL has no host")
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/ws")
	u.RawQuery, u.Fragment, u.RawPath = "", "", ""
	return strings.TrimRight(u.String(), "/"), nil
}
