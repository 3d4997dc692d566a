package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// A frame as Centrifugo writes it when several messages are queued: a ping,
// a reply and a publication, one per line.
const cfBatchedFrame = `{}
{"id":2,"subscribe":{}}
{"push":{"channel":"bench","pub":{"data":{"type":"bench","round":4,"seq":17,"pad":"xx","sentNs":1700000000000000123}}}}
`

func TestCentrifugoFrameLines(t *testing.T) {
	var pings, pushes, replies int
	err := cfLines([]byte(cfBatchedFrame), func(line []byte) error {
		switch {
		case cfIsPing(line):
			pings++
		case cfIsPush(line):
			pushes++
			for key, want := range map[string]int64{"round": 4, "seq": 17, "sentNs": 1700000000000000123} {
				if got, ok := intField(line, key); !ok || got != want {
					t.Errorf("push %s = %d, %v; want %d", key, got, ok, want)
				}
			}
			var m cfMessage
			if err := json.Unmarshal(line, &m); err != nil || m.Push == nil || m.Push.Channel != "bench" || m.Push.Pub == nil {
				t.Errorf("push did not decode: %+v, %v", m, err)
			}
		default:
			replies++
			var m cfMessage
			if err := json.Unmarshal(line, &m); err != nil || m.ID != 2 || m.Subscribe == nil || m.Error != nil {
				t.Errorf("reply did not decode as the subscribe reply: %+v, %v", m, err)
			}
		}
		return nil
	})
	if err != nil || pings != 1 || pushes != 1 || replies != 1 {
		t.Fatalf("pings %d, pushes %d, replies %d, err %v; want one of each", pings, pushes, replies, err)
	}
	// A reply with an id that mentions "push" in its result is not a push.
	if cfIsPush([]byte(`{"id":3,"rpc":{"data":{"push":1}}}`)) {
		t.Error("a reply was taken for a push")
	}
}

// cfPipe returns a client reading one end of a pipe and the other end, as
// the server.
func cfPipe(t *testing.T) (*client, net.Conn) {
	t.Helper()
	cc, sc := net.Pipe()
	t.Cleanup(func() { cc.Close(); sc.Close() })
	_ = cc.SetDeadline(time.Now().Add(5 * time.Second))
	_ = sc.SetDeadline(time.Now().Add(5 * time.Second))
	return &client{nc: cc, br: bufio.NewReader(cc), buf: make([]byte, 64)}, sc
}

func TestCentrifugoAwaitReplyAnswersPingsAndSkipsOtherIDs(t *testing.T) {
	c, srv := cfPipe(t)
	pong := make(chan string, 1)
	go func() {
		_ = wsutil.WriteServerText(srv, []byte("{}\n{\"id\":7,\"connect\":{}}"))
		p, op, err := wsutil.ReadClientData(srv) // the answer to the ping
		if err != nil || op != ws.OpText {
			pong <- "error: " + errString(err)
			return
		}
		pong <- string(p)
		_ = wsutil.WriteServerText(srv, []byte(`{"id":1,"connect":{"client":"abc","version":"6.9.1","ping":25,"pong":true}}`))
	}()
	if err := c.cfAwaitReply(1); err != nil {
		t.Fatalf("cfAwaitReply: %v", err)
	}
	if got := <-pong; got != "{}" {
		t.Errorf("ping answered with %q; want {}", got)
	}
}

func TestCentrifugoAwaitReplyRefusesAnError(t *testing.T) {
	c, srv := cfPipe(t)
	go func() {
		_ = wsutil.WriteServerText(srv, []byte(`{"id":2,"error":{"code":103,"message":"permission denied"}}`))
	}()
	err := c.cfAwaitReply(2)
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "103 permission denied") {
		t.Fatalf("cfAwaitReply = %v; want a refusal naming code 103", err)
	}
}

func TestCentrifugoPublishBody(t *testing.T) {
	data := fanoutBody(nil, 2, 5, 64)
	var req struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(cfPublishBody(nil, `be"nch`, data), &req); err != nil {
		t.Fatalf("publish body is not JSON: %v", err)
	}
	if req.Channel != `be"nch` || string(req.Data) != string(data) {
		t.Errorf("publish body = %+v; want channel be\"nch and data %s", req, data)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
