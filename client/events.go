package client

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
)

// handlers are the application's event handlers.
type handlers struct {
	mu           sync.RWMutex
	connected    []func()
	disconnected []func(error)
	errors       []func(*Error)
	messages     []func(Notification)
	raw          []func(json.RawMessage)
	reconnecting []func(int)
	unread       []func(int)
}

// OnConnected adds a handler called each time a connection is established
// and the server has greeted it.
func (c *Client) OnConnected(f func()) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.connected = append(c.h.connected, f)
}

// OnDisconnected adds a handler called each time an established connection
// ends, with the cause: nil after Disconnect, an *Error otherwise.
func (c *Client) OnDisconnected(f func(err error)) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.disconnected = append(c.h.disconnected, f)
}

// OnError adds a handler called with every error: failed connection
// attempts, dropped connections, and messages the server refused.
func (c *Client) OnError(f func(*Error)) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.errors = append(c.h.errors, f)
}

// OnMessage adds a handler called once for each notification, whether it
// arrived live or was replayed after a reconnection.
func (c *Client) OnMessage(f func(Notification)) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.messages = append(c.h.messages, f)
}

// OnRaw adds a handler called with every message the server sends, as it
// came: protocol messages, duplicates and what backends sent with the server
// API alike.
func (c *Client) OnRaw(f func(json.RawMessage)) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.raw = append(c.h.raw, f)
}

// OnReconnecting adds a handler called before each reconnection attempt,
// with its number: 1 for the first after a failure.
func (c *Client) OnReconnecting(f func(attempt int)) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.reconnecting = append(c.h.reconnecting, f)
}

// events runs the handlers on one goroutine, in the order the events
// happened, so that a slow or blocking handler never stalls the connection
// and a handler may call any method of the Client, Disconnect included.
// The goroutine exists only while events are waiting.
type events struct {
	log     *slog.Logger
	mu      sync.Mutex
	queue   []func()
	running bool
	idle    chan struct{} // closed when the queue empties; nil while idle
}

func (e *events) emit(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = append(e.queue, f)
	if !e.running {
		e.running = true
		e.idle = make(chan struct{})
		go e.drain()
	}
}

func (e *events) drain() {
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.running = false
			close(e.idle)
			e.mu.Unlock()
			return
		}
		f := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		e.mu.Unlock()
		e.call(f)
	}
}

// call runs one handler; a panicking handler is logged, not fatal.
func (e *events) call(f func()) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("herald client: event handler panicked", "panic", fmt.Sprint(r))
		}
	}()
	f()
}

// wait returns a channel closed once every event emitted so far has been
// handled.
func (e *events) wait() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return e.idle
}

func (c *Client) emitConnected() {
	c.h.mu.RLock()
	fs := c.h.connected
	c.h.mu.RUnlock()
	c.ev.emit(func() {
		for _, f := range fs {
			f()
		}
	})
}

func (c *Client) emitDisconnected(err error) {
	c.h.mu.RLock()
	fs := c.h.disconnected
	c.h.mu.RUnlock()
	c.ev.emit(func() {
		for _, f := range fs {
			f(err)
		}
	})
}

func (c *Client) emitError(err *Error) {
	c.log.Debug("herald client error", "err", err.Error())
	c.h.mu.RLock()
	fs := c.h.errors
	c.h.mu.RUnlock()
	c.ev.emit(func() {
		for _, f := range fs {
			f(err)
		}
	})
}

func (c *Client) emitMessage(n Notification) {
	c.h.mu.RLock()
	fs := c.h.messages
	c.h.mu.RUnlock()
	c.ev.emit(func() {
		for _, f := range fs {
			f(n)
		}
	})
}

func (c *Client) emitRaw(data json.RawMessage) {
	c.h.mu.RLock()
	fs := c.h.raw
	c.h.mu.RUnlock()
	if len(fs) == 0 {
		return
	}
	c.ev.emit(func() {
		for _, f := range fs {
			f(data)
		}
	})
}

func (c *Client) emitReconnecting(attempt int) {
	c.h.mu.RLock()
	fs := c.h.reconnecting
	c.h.mu.RUnlock()
	c.ev.emit(func() {
		for _, f := range fs {
			f(attempt)
		}
	})
}
