package ws

import (
	"bufio"
	"net"
	"net/http"
)

// heldResponse is the ResponseWriter the upgrader answers through: it hands
// the upgrader the hijacked connection with a writer that keeps the 101
// response in memory instead of sending it. The response then leaves in the
// same write as what follows it — the "connected" message, or the close frame
// of a refused token — one system call and one packet instead of two.
type heldResponse struct {
	http.ResponseWriter
	out heldBytes
}

// heldBytes collects what the upgrader writes.
type heldBytes []byte

func (h *heldBytes) Write(p []byte) (int, error) {
	*h = append(*h, p...)
	return len(p), nil
}

// Hijack implements http.Hijacker over the ResponseWriter's own, with the
// returned writer redirected to h.out.
func (h *heldResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		rw.Writer.Reset(&h.out)
	}
	return nc, rw, err
}

// Unwrap lets a ResponseController reach the underlying ResponseWriter.
func (h *heldResponse) Unwrap() http.ResponseWriter { return h.ResponseWriter }
