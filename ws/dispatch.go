package ws

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// dispatcher handles one connection's messages, on its reader goroutine.
type dispatcher struct {
	c      *conn
	events *limiter // client events, when a sink is configured
}

func (d *dispatcher) now() string { return herald.FormatTime(d.c.srv.cfg.Now()) }

func (d *dispatcher) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// connected greets a new connection and, when it asked with since, replays
// what it missed before anything live.
func (d *dispatcher) connected(since int64) {
	msg := connectedMsg{Type: herald.TypeConnected, UserID: d.c.user, Timestamp: d.now()}
	inbox := d.c.srv.cfg.Inbox
	if inbox != nil {
		ctx, cancel := d.ctx()
		if u, err := inbox.UnreadCount(ctx, d.c.user); err == nil {
			msg.UnreadCount, msg.UnreadVersion = &u.Count, u.Version
			d.c.mu.Lock()
			d.c.version = max(d.c.version, u.Version) // older counts held meanwhile are dropped
			if since < 0 {
				// A live-only client still gets a resume point, so that the
				// server can resync it by itself after a broker outage
				// (Server.Resync).
				d.c.seqs.reset(u.LastSeq)
			}
			d.c.mu.Unlock()
		} else {
			d.c.srv.log.Error("unread count for connected message", "user", d.c.user, "err", err)
		}
		cancel()
	}
	d.c.sendData(encode(msg), true)
	if since >= 0 { // replayMu is held since newConn
		d.c.mu.Lock()
		d.c.seqs.reset(since)
		d.c.mu.Unlock()
		d.replay(since)
		return
	}
	d.release(nil)
}

// handle answers one complete client text message.
func (d *dispatcher) handle(data []byte) {
	m := d.c.srv.metrics
	if !d.c.admit() {
		return
	}
	in, err := parseInbound(data)
	if err != nil {
		m.messagesIn.WithLabelValues("invalid").Inc()
		d.fail(err, "")
		return
	}
	switch in.Type {
	case herald.TypePing:
		d.reply(stampedMsg{Type: herald.TypePong, Timestamp: d.now()})
	case herald.TypeSubscribe:
		d.subscribe(in)
	case herald.TypeUnsubscribe:
		d.unsubscribe(in)
	case herald.TypeMarkRead:
		d.markRead(in)
	case herald.TypeAuth:
		d.refresh(in)
	case herald.TypeClientNote, herald.TypeCustomEvent:
		if d.c.srv.cfg.ClientEvents == nil {
			m.messagesIn.WithLabelValues("unknown").Inc()
			d.fail(herald.Errorf(herald.EINVALID, "Unknown message type"), "")
			return
		}
		d.clientEvent(in)
	case herald.TypeResume:
		since, ok := intField(in.Since)
		if !ok {
			d.fail(herald.Errorf(herald.EINVALID, "since must be a non-negative integer"), "")
			break
		}
		d.c.resume(since)
	default:
		m.messagesIn.WithLabelValues("unknown").Inc()
		d.fail(herald.Errorf(herald.EINVALID, "Unknown message type"), "")
		return
	}
	m.messagesIn.WithLabelValues(in.Type).Inc()
}

func (d *dispatcher) reply(v any) { d.c.sendData(encode(v), false) }

// fail answers with the protocol's error message.
func (d *dispatcher) fail(err error, channel string) {
	d.reply(errorMsg{Type: herald.TypeError, Message: herald.ErrorMessage(err), Code: herald.CodeOf(err), Channel: channel})
}

func (d *dispatcher) channel(in *inbound) (string, bool) {
	raw, ok := stringField(in.Channel)
	ch, err := herald.ParseChannel(raw)
	if !ok || err != nil {
		d.fail(herald.Errorf(herald.EINVALID, "Invalid channel name"), "")
		return "", false
	}
	return ch, true
}

func (d *dispatcher) subscribe(in *inbound) {
	ch, ok := d.channel(in)
	if !ok {
		return
	}
	c := d.c
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if err := c.srv.cfg.Channels.allow(c.grantsLocked(), ch); err != nil {
		d.fail(err, ch)
		return
	}
	if err := c.srv.cfg.Hub.Subscribe(c, ch); err != nil {
		d.fail(err, ch)
		return
	}
	if c.subs == nil {
		c.subs = make(map[string]struct{})
	}
	c.subs[ch] = struct{}{}
	d.reply(channelMsg{Type: herald.TypeSubscribed, Channel: ch, Timestamp: d.now()})
}

func (d *dispatcher) unsubscribe(in *inbound) {
	ch, ok := d.channel(in)
	if !ok {
		return
	}
	c := d.c
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.srv.cfg.Hub.Unsubscribe(c, ch)
	delete(c.subs, ch)
	d.reply(channelMsg{Type: herald.TypeUnsubscribed, Channel: ch, Timestamp: d.now()})
}

// markRead hands mark_read to the inbox, which tells every connection of the
// user, this one included, once the change is committed.
func (d *dispatcher) markRead(in *inbound) {
	id, ok := stringField(in.NotificationID)
	if !ok || id == "" || len(id) > 128 {
		d.fail(herald.Errorf(herald.EINVALID, "notificationId must be a non-empty string"), "")
		return
	}
	inbox := d.c.srv.cfg.Inbox
	if inbox == nil {
		d.fail(herald.Errorf(herald.EUNAVAILABLE, "Notifications are not available"), "")
		return
	}
	ctx, cancel := d.ctx()
	defer cancel()
	if _, err := inbox.MarkRead(ctx, d.c.user, id); err != nil {
		if herald.CodeOf(err) == herald.EINTERNAL {
			d.c.srv.log.Error("mark_read", "user", d.c.user, "err", err)
		}
		d.fail(err, "")
	}
}

// replay sends every notification with seq > since, in order, while live
// messages are held; then it releases the held ones, dropping notifications
// the replay already sent. Registering before reading the store is what makes
// the boundary gap-free: anything committed after the read is held live.
func (d *dispatcher) replay(since int64) {
	c := d.c
	last, count := since, 0
	inbox := c.srv.cfg.Inbox
	for inbox != nil {
		ctx, cancel := d.ctx()
		ns, err := inbox.List(ctx, herald.NotificationFilter{UserID: c.user, Since: last, Ascending: true, WithSilent: true, Limit: c.srv.cfg.ReplayPageSize})
		cancel()
		if err != nil {
			c.srv.log.Error("resume", "user", c.user, "err", err)
			d.fail(herald.Errorf(herald.EINTERNAL, "Resume failed; reconnect to retry"), "")
			c.close(herald.CloseServerError, "Internal server error", false)
			return
		}
		for _, n := range ns {
			last = n.Seq
			c.mu.Lock()
			sent := c.seqs.has(n.Seq)
			c.seqs.mark(n.Seq)
			c.mu.Unlock()
			if sent || n.Silent { // a silent one is read for its seq, never sent
				continue
			}
			if !c.sendData(encode(notificationMsg{Type: herald.TypeNotificationNew, Notification: n, Timestamp: d.now(), Replayed: true}), true) {
				return
			}
			count++
		}
		if len(ns) < c.srv.cfg.ReplayPageSize {
			break
		}
	}
	d.release(encode(resumedMsg{Type: TypeResumed, Since: since, LastSeq: last, Replayed: count, Timestamp: d.now()}))
}

// release queues first (when not nil) and then the live messages held so
// far, minus notifications the connection was already sent, and stops
// holding. From the first replay on, live copies of replayed notifications
// that arrive later are dropped too.
func (d *dispatcher) release(first []byte) {
	c := d.c
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if first != nil {
		c.queue = append(c.queue, c.own(first))
	}
	if first != nil {
		c.dedupe = true
	}
	for _, m := range c.held {
		c.enqueueLocked(m)
	}
	c.held, c.replaying = nil, false
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.srv.writers.push(c)
	}
}

// resume replays, on a connection already live, what it misses: after since
// for a client's resume message (since >= 0), or, for Server.Resync after a
// broker outage (since < 0), every notification it was not sent.
func (c *conn) resume(since int64) {
	c.replayMu.Lock()
	defer c.replayMu.Unlock()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.replaying = true
	if since >= 0 {
		c.seqs.reset(since)
	}
	from := c.seqs.w
	c.mu.Unlock()
	(&dispatcher{c: c}).replay(from)
}
