package events

import (
	"context"

	"github.com/heraldhq/herald"
)

// Config configures a Handler.
type Config struct {
	// Inbox creates the rendered notifications. Required.
	Inbox herald.Inbox
	// Templates maps event names to templates (default Defaults()).
	Templates *Templates
}

// Handler is the herald.EventHandler: it renders an event with its template
// and creates the result through the Inbox, which stores it and then pushes
// it to the recipient.
type Handler struct {
	inbox     herald.Inbox
	templates *Templates
}

var _ herald.EventHandler = (*Handler)(nil)

// New returns a Handler for c. It fails only when c has no Inbox.
func New(c Config) (*Handler, error) {
	if c.Inbox == nil {
		return nil, herald.Errorf(herald.EINTERNAL, "events: an inbox is required")
	}
	h := &Handler{inbox: c.Inbox, templates: c.Templates}
	if h.templates == nil {
		h.templates = Defaults()
	}
	return h, nil
}

// HandleEvent renders e (see Templates.Render for the errors) and creates its
// notifications. It returns them as stored: for a redelivered event with an
// ID, the notifications created the first time, Replayed.
//
// What the template rendered is validated once, by the inbox; a rendered
// notification the inbox refuses (a title too long for the event's data, say)
// is the event's fault, not the caller's request syntax: EUNPROCESSABLE, or
// ETOOLARGE, naming the event.
func (h *Handler) HandleEvent(ctx context.Context, e *herald.Event) ([]herald.Created, error) {
	ns, err := h.templates.Render(e)
	if err != nil {
		return nil, err
	}
	res, err := h.inbox.Create(ctx, ns)
	switch code := herald.CodeOf(err); code {
	case "":
		return res, nil
	case herald.EINVALID, herald.ETOOLARGE:
		if code == herald.EINVALID {
			code = herald.EUNPROCESSABLE
		}
		return nil, herald.Errorf(code, "event %q: %s", e.Name, herald.ErrorMessage(err))
	}
	return nil, err
}
