//go:build !linux

package ws

import "errors"

// poller is Linux's epoll set; elsewhere every connection keeps a reader
// goroutine, as newPoller's error tells the server.
type poller struct{}

func newPoller(func(*conn)) (*poller, error) {
	return nil, errors.New("ws: no poller on this platform")
}
func (p *poller) add(*conn) error   { return errors.New("ws: no poller") }
func (p *poller) rearm(*conn) error { return errors.New("ws: no poller") }
func (p *poller) remove(*conn)      {}
func (p *poller) stop()             {}
