package http

import (
	"net/http"

	"github.com/heraldhq/herald"
)

// eventInput is the body of POST /api/events.
type eventInput struct {
	ID   string         `json:"id"`
	Name string         `json:"event"`
	Data map[string]any `json:"data"`
}

// handleEvent hands a domain event to the EventHandler and answers the
// notifications it created: 201, or 200 when the event was delivered before
// and created nothing new. The handler's errors keep their codes, so an
// unknown event or missing field answers 422. Numbers in data are kept as
// written (json.Number), so a large id loses no digits.
func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in eventInput
	if err := decodeObject(body, &in, true); err != nil {
		return err
	}
	res, err := s.cfg.Events.HandleEvent(r.Context(), &herald.Event{ID: in.ID, Name: in.Name, Data: in.Data})
	if err != nil {
		return err
	}
	writeJSON(w, createdStatus(res), notificationsResponse{Notifications: stored(res)})
	return nil
}
