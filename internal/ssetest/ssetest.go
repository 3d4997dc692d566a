// Package ssetest reads Server-Sent Events streams in tests: a reader of its
// own, independent of the client SDK's, that keeps events, ids and comments
// as they came.
package ssetest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Event is one event of a stream.
type Event struct {
	Name, ID string
	Data     map[string]any // the data, decoded as a JSON object when it is one
	Raw      string
}

// Stream reads the events of one response in the background.
type Stream struct {
	t        testing.TB
	Resp     *http.Response
	events   chan Event
	Comments chan struct{} // one per comment (heartbeat), while not full
}

// Open sends req with c and fails the test unless the response is a
// text/event-stream; its body is closed when the test ends.
func Open(t testing.TB, c *http.Client, req *http.Request) *Stream {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("GET %s: %d %s %s", req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return Read(t, resp)
}

// Read reads the events of resp, a stream already opened.
func Read(t testing.TB, resp *http.Response) *Stream {
	s := &Stream{t: t, Resp: resp, events: make(chan Event, 4096), Comments: make(chan struct{}, 64)}
	go s.loop(bufio.NewReader(resp.Body))
	return s
}

func (s *Stream) loop(br *bufio.Reader) {
	defer close(s.events)
	var cur Event
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if len(data) > 0 {
				cur.Raw = strings.Join(data, "\n")
				_ = json.Unmarshal([]byte(cur.Raw), &cur.Data)
				s.events <- cur
			}
			cur, data = Event{}, nil
		case strings.HasPrefix(line, ":"):
			select {
			case s.Comments <- struct{}{}:
			default:
			}
		case strings.HasPrefix(line, "event: "):
			cur.Name = line[7:]
		case strings.HasPrefix(line, "id: "):
			cur.ID = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:])
		}
	}
}

// Next returns the next event, failing the test after d (5 s when 0) or when
// the stream ends.
func (s *Stream) Next() Event {
	s.t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return Event{}
}

// Until returns the next event named name, skipping others.
func (s *Stream) Until(name string) Event {
	s.t.Helper()
	for {
		if e := s.Next(); e.Name == name {
			return e
		}
	}
}

// Ended waits up to 5 s for the stream to end and reports whether it did.
func (s *Stream) Ended() bool {
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// Events is the stream's events as they arrive, closed when it ends, for
// tests that wait on several things at once.
func (s *Stream) Events() <-chan Event { return s.events }
