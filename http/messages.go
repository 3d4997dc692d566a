package http

import (
	"net/http"

	"github.com/heraldhq/herald"
)

// deliveredResponse answers a send with the number of local connections that
// accepted the message.
type deliveredResponse struct {
	Delivered int `json:"delivered"`
}

// handleUserMessage sends the body to every connection of one user: the
// design document's sendToUser.
func (s *Server) handleUserMessage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("userId")
	if err := checkUserID("userId", id); err != nil {
		return err
	}
	return s.publish(w, r, herald.Audience{Kind: herald.ToUser, Name: id})
}

// handleChannelMessage sends the body to every connection subscribed to a
// channel: the design document's sendToChannel.
func (s *Server) handleChannelMessage(w http.ResponseWriter, r *http.Request) error {
	ch, err := herald.ParseChannel(r.PathValue("channel"))
	if err != nil {
		return err
	}
	return s.publish(w, r, herald.Audience{Kind: herald.ToChannel, Name: ch})
}

// handleBroadcast sends the body to every connection, except those of the
// user named by ?exclude=: the design document's broadcast.
func (s *Server) handleBroadcast(w http.ResponseWriter, r *http.Request) error {
	to := herald.Audience{Kind: herald.ToAll}
	if q := r.URL.Query(); q.Has("exclude") {
		to.Except = q.Get("exclude")
		if err := checkUserID("exclude", to.Except); err != nil {
			return err
		}
	}
	return s.publish(w, r, to)
}

// publish sends the request body, a JSON object compacted once, to audience.
func (s *Server) publish(w http.ResponseWriter, r *http.Request, to herald.Audience) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	payload, err := compactObject(body)
	if err != nil {
		return err
	}
	n, err := s.cfg.Publisher.Publish(r.Context(), &herald.Message{To: to, Payload: payload})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deliveredResponse{Delivered: n})
	return nil
}

// statsResponse is the design document's getStats, with its timestamp in the
// wire format.
type statsResponse struct {
	TotalConnections int            `json:"totalConnections"`
	TotalUsers       int            `json:"totalUsers"`
	ChannelCounts    map[string]int `json:"channelCounts"`
	Timestamp        string         `json:"timestamp"`
}

// handleStats answers the node's connection figures.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) error {
	st := s.cfg.Stats()
	if st.Timestamp.IsZero() {
		st.Timestamp = s.cfg.Now()
	}
	if st.ChannelCounts == nil {
		st.ChannelCounts = map[string]int{}
	}
	writeJSON(w, http.StatusOK, statsResponse{
		TotalConnections: st.TotalConnections,
		TotalUsers:       st.TotalUsers,
		ChannelCounts:    st.ChannelCounts,
		Timestamp:        herald.FormatTime(st.Timestamp),
	})
	return nil
}
