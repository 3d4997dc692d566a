package session

import (
	"encoding/json"
	"slices"

	"github.com/heraldhq/herald"
)

// MaxEventTypeLen caps a custom_event's payload.eventType.
const MaxEventTypeLen = 64

// clientEvent validates a client's "notification" or "custom_event" message
// and hands it to the application; the client gets an ack with the event's id,
// or an error saying why not (echoing its "ref" either way). Nothing a client
// sends is delivered to other users by Herald.
func (s *Session) clientEvent(in *inbound) {
	cfg := &s.e.cfg
	ref, _ := stringField(in.Ref)
	if len(ref) > 64 {
		ref = ""
	}
	fail := func(err error) {
		s.reply(errorMsg{Type: herald.TypeError, Message: herald.ErrorMessage(err), Code: herald.CodeOf(err), Ref: ref})
	}
	if !slices.Contains(cfg.ClientEventTypes, in.Type) {
		fail(herald.Errorf(herald.EFORBIDDEN, "Client messages of this type are not accepted"))
		return
	}
	if ok, _ := s.events.allow(); !ok {
		fail(herald.Errorf(herald.ERATELIMIT, "Rate limit exceeded"))
		return
	}
	if len(in.Payload) > cfg.MaxClientEventBytes {
		fail(herald.Errorf(herald.ETOOLARGE, "payload is larger than %d bytes", cfg.MaxClientEventBytes))
		return
	}
	var obj map[string]json.RawMessage
	if len(in.Payload) == 0 || in.Payload[0] != '{' || json.Unmarshal(in.Payload, &obj) != nil {
		fail(herald.Errorf(herald.EINVALID, "payload must be a JSON object"))
		return
	}
	ev := &herald.ClientEvent{ID: herald.NewID(), Type: in.Type, UserID: s.user, Payload: in.Payload, ReceivedAt: cfg.Now().UTC()}
	if in.Type == herald.TypeCustomEvent {
		et, ok := stringField(obj["eventType"])
		if !ok || et == "" || len(et) > MaxEventTypeLen {
			fail(herald.Errorf(herald.EINVALID, "payload.eventType must be a string of 1 to %d bytes", MaxEventTypeLen))
			return
		}
		ev.EventType = et
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if err := cfg.ClientEvents.Accept(ctx, ev); err != nil {
		if herald.CodeOf(err) == herald.EINTERNAL {
			s.e.log.Error("client event", "user", s.user, "type", in.Type, "err", err)
		}
		fail(err)
		return
	}
	s.reply(ackMsg{Type: herald.TypeAck, ID: ev.ID, Ref: ref, Timestamp: s.now()})
}
