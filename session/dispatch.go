package session

import (
	"github.com/heraldhq/herald"
)

// Handle answers one complete client message (JSON), on the transport's
// reader: one call at a time.
func (s *Session) Handle(data []byte) {
	m := s.e.metrics
	if !s.Admit() {
		return
	}
	in, err := parseInbound(data)
	if err != nil {
		m.MessagesIn.WithLabelValues("invalid").Inc()
		s.fail(err, "")
		return
	}
	switch in.Type {
	case herald.TypePing:
		s.reply(stampedMsg{Type: herald.TypePong, Timestamp: s.now()})
	case herald.TypeSubscribe:
		s.subscribe(in)
	case herald.TypeUnsubscribe:
		s.unsubscribe(in)
	case herald.TypeMarkRead:
		s.markRead(in)
	case herald.TypeAuth:
		s.refresh(in)
	case herald.TypeClientNote, herald.TypeCustomEvent:
		if s.e.cfg.ClientEvents == nil {
			m.MessagesIn.WithLabelValues("unknown").Inc()
			s.fail(herald.Errorf(herald.EINVALID, "Unknown message type"), "")
			return
		}
		s.clientEvent(in)
	case herald.TypeResume:
		since, ok := intField(in.Since)
		if !ok {
			s.fail(herald.Errorf(herald.EINVALID, "since must be a non-negative integer"), "")
			break
		}
		s.resume(since)
	default:
		m.MessagesIn.WithLabelValues("unknown").Inc()
		s.fail(herald.Errorf(herald.EINVALID, "Unknown message type"), "")
		return
	}
	m.MessagesIn.WithLabelValues(in.Type).Inc()
}

// fail answers with the protocol's error message.
func (s *Session) fail(err error, channel string) {
	s.reply(errorMsg{Type: herald.TypeError, Message: herald.ErrorMessage(err), Code: herald.CodeOf(err), Channel: channel})
}

func (s *Session) channel(in *inbound) (string, bool) {
	raw, ok := stringField(in.Channel)
	ch, err := herald.ParseChannel(raw)
	if !ok || err != nil {
		s.fail(herald.Errorf(herald.EINVALID, "Invalid channel name"), "")
		return "", false
	}
	return ch, true
}

func (s *Session) subscribe(in *inbound) {
	ch, ok := s.channel(in)
	if !ok {
		return
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if err := s.e.cfg.Channels.allow(s.grantsLocked(), ch); err != nil {
		s.fail(err, ch)
		return
	}
	if err := s.e.cfg.Hub.Subscribe(s, ch); err != nil {
		s.fail(err, ch)
		return
	}
	if s.subs == nil {
		s.subs = make(map[string]struct{})
	}
	s.subs[ch] = struct{}{}
	s.reply(channelMsg{Type: herald.TypeSubscribed, Channel: ch, Timestamp: s.now()})
}

func (s *Session) unsubscribe(in *inbound) {
	ch, ok := s.channel(in)
	if !ok {
		return
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.e.cfg.Hub.Unsubscribe(s, ch)
	delete(s.subs, ch)
	s.reply(channelMsg{Type: herald.TypeUnsubscribed, Channel: ch, Timestamp: s.now()})
}

// markRead hands mark_read to the inbox, which tells every connection of the
// user, this one included, once the change is committed.
func (s *Session) markRead(in *inbound) {
	id, ok := stringField(in.NotificationID)
	if !ok || id == "" || len(id) > 128 {
		s.fail(herald.Errorf(herald.EINVALID, "notificationId must be a non-empty string"), "")
		return
	}
	inbox := s.e.cfg.Inbox
	if inbox == nil {
		s.fail(herald.Errorf(herald.EUNAVAILABLE, "Notifications are not available"), "")
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if _, err := inbox.MarkRead(ctx, s.user, id); err != nil {
		if herald.CodeOf(err) == herald.EINTERNAL {
			s.e.log.Error("mark_read", "user", s.user, "err", err)
		}
		s.fail(err, "")
	}
}
