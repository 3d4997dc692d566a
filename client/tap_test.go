package client_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// tap forwards TCP connections to a server and records the bytes of each
// in both directions, so that a test can read the handshake and the
// WebSocket frames that really crossed the wire. With stripProtocol it
// removes Sec-WebSocket-Protocol from each handshake request, so the server
// never hears of a subprotocol, as one older than the encodings would.
type tap struct {
	ln            net.Listener
	target        string
	stripProtocol bool

	mu    sync.Mutex
	conns []*tapConn
	open  []net.Conn
	wg    sync.WaitGroup
}

// tapConn is what one connection carried: up from the client, down from
// the server.
type tapConn struct {
	up, down syncBuffer
}

func newTap(t *testing.T, target string, stripProtocol bool) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tap{ln: ln, target: target, stripProtocol: stripProtocol}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *tap) wsURL() string { return "ws://" + p.ln.Addr().String() + "/ws" }

// recorded returns the connections so far, oldest first.
func (p *tap) recorded() []*tapConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*tapConn(nil), p.conns...)
}

func (p *tap) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		tc := &tapConn{}
		p.mu.Lock()
		p.conns = append(p.conns, tc)
		p.open = append(p.open, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer s.Close()
			r := bufio.NewReader(c)
			head, err := readHead(r)
			if err != nil {
				return
			}
			if p.stripProtocol {
				head = stripHeader(head, "Sec-WebSocket-Protocol")
			}
			tc.up.Write(head)
			if _, err := s.Write(head); err != nil {
				return
			}
			io.Copy(s, io.TeeReader(r, &tc.up))
		}()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			io.Copy(c, io.TeeReader(s, &tc.down))
		}()
	}
}

func (p *tap) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// readHead reads an HTTP message's head, up to and with its blank line.
func readHead(r *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := r.ReadBytes('\n')
		head = append(head, line...)
		if err != nil {
			return nil, err
		}
		if len(line) <= 2 && strings.TrimSpace(string(line)) == "" {
			return head, nil
		}
	}
}

func stripHeader(head []byte, name string) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(head, []byte("\n")) {
		if k, _, ok := strings.Cut(string(line), ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

// handshake returns the head of the server's answer to the upgrade.
func (tc *tapConn) handshake() string {
	s := tc.down.String()
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// wireFrame is one WebSocket frame as it crossed the wire, unmasked.
type wireFrame struct {
	op         byte // 1 text, 2 binary, 0 continuation, 8+ control
	fin, rsv1  bool
	payload    []byte
	fromClient bool
}

func (f wireFrame) data() bool { return f.op < 8 }

// message returns the frame's payload, inflated when it is compressed.
func (f wireFrame) message() ([]byte, error) {
	if !f.rsv1 {
		return f.payload, nil
	}
	r := flate.NewReader(io.MultiReader(bytes.NewReader(f.payload), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff")))
	defer r.Close()
	return io.ReadAll(r)
}

// frames returns the complete frames sent by the client (up) or the server.
func (tc *tapConn) frames(up bool) []wireFrame {
	b := []byte(tc.down.String())
	if up {
		b = []byte(tc.up.String())
	}
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return nil
	}
	return parseFrames(b[i+4:], up)
}

func parseFrames(b []byte, fromClient bool) []wireFrame {
	var out []wireFrame
	for len(b) >= 2 {
		n, i := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return out
			}
			n, i = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return out
			}
			n, i = binary.BigEndian.Uint64(b[2:]), 10
		}
		var mask []byte
		if b[1]&0x80 != 0 {
			if len(b) < i+4 {
				return out
			}
			mask, i = b[i:i+4], i+4
		}
		if uint64(len(b)-i) < n {
			return out
		}
		p := append([]byte(nil), b[i:i+int(n)]...)
		for j := range mask {
			for k := j; k < len(p); k += 4 {
				p[k] ^= mask[j]
			}
		}
		out = append(out, wireFrame{op: b[0] & 0x0f, fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, payload: p, fromClient: fromClient})
		b = b[i+int(n):]
	}
	return out
}
