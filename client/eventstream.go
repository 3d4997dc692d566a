package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// streamEvent is one event of a text/event-stream, as the HTML standard's
// parser dispatches it.
type streamEvent struct {
	Event string // the event: field, "message" when the event had none
	Data  []byte // the data: lines joined with "\n"
	ID    string // the last event ID after this event (it persists)
	Retry int    // a retry: field in milliseconds seen since the last event, or -1
}

// errEventTooLarge is returned when one line or one event's data exceeds the
// reader's limit.
var errEventTooLarge = errors.New("event-stream: event larger than the read limit")

// eventReader parses a text/event-stream (HTML Living Standard, "Server-sent
// events", 9.2.6) from a live response body: lines end with CRLF, LF or CR,
// and a CR is never held back waiting for a possible LF, so that a stream
// that ends its lines with CR alone does not stall.
type eventReader struct {
	r     *bufio.Reader
	limit int
	// onComment is called for each comment line (a heartbeat), if set.
	onComment func()

	skipLF bool // the last line ended with CR: a following LF belongs to it
	lastID string
	line   []byte
}

func newEventReader(r io.Reader, limit int) *eventReader {
	return &eventReader{r: bufio.NewReaderSize(r, 4096), limit: limit}
}

// readLine returns the next line without its terminator. At the end of the
// stream a last unterminated line is dropped, as the standard says.
func (er *eventReader) readLine() ([]byte, error) {
	er.line = er.line[:0]
	for {
		b, err := er.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if er.skipLF {
			er.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return er.line, nil
		case '\r':
			er.skipLF = true
			return er.line, nil
		}
		if len(er.line) >= er.limit {
			return nil, errEventTooLarge
		}
		er.line = append(er.line, b)
	}
}

// next returns the next event with data; events without data are not
// dispatched, as the standard says, but their id: and retry: fields count.
func (er *eventReader) next() (streamEvent, error) {
	var (
		data    []byte
		hasData bool
		event   string
		retry   = -1
	)
	if len(er.lastID) > er.limit {
		er.lastID = ""
	}
	for {
		line, err := er.readLine()
		if err != nil {
			return streamEvent{}, err
		}
		if len(line) == 0 {
			if !hasData {
				event = ""
				continue
			}
			if event == "" {
				event = "message"
			}
			return streamEvent{Event: event, Data: data, ID: er.lastID, Retry: retry}, nil
		}
		if line[0] == ':' {
			if er.onComment != nil {
				er.onComment()
			}
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			if len(data)+len(value) > er.limit {
				return streamEvent{}, errEventTooLarge
			}
			data = append(data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				er.lastID = string(value)
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 && isDigits(value) {
				retry = n
			}
		}
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
