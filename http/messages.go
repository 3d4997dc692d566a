package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// handleUserMessage sends the body to every connection of one user: the
// design document's sendToUser.
func (s *Server) handleUserMessage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("userId")
	if err := herald.CheckUserID("userId", id); err != nil {
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
		if err := herald.CheckUserID("exclude", to.Except); err != nil {
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
	// {"delivered":n}: the number of local connections that accepted the
	// message. Written by hand, as it is the API's most frequent answer.
	answer := make([]byte, 0, len(`{"delivered":}`)+20+1) // room for any int and writeEncoded's newline
	answer = strconv.AppendInt(append(answer, `{"delivered":`...), int64(n), 10)
	writeEncoded(w, http.StatusOK, append(answer, '}'))
	return nil
}

// statsResponse is the design document's getStats, with its timestamp in the
// wire format, and in a cluster one row per node.
type statsResponse struct {
	TotalConnections int            `json:"totalConnections"`
	TotalUsers       int            `json:"totalUsers"`
	ChannelCounts    map[string]int `json:"channelCounts"`
	Timestamp        string         `json:"timestamp"`
	Transports       map[string]int `json:"transports,omitempty"`
	Nodes            []nodeStats    `json:"nodes,omitempty"`
}

type nodeStats struct {
	Node string `json:"node"`
	statsResponse
}

func statsOf(st herald.Stats, now time.Time) statsResponse {
	if st.Timestamp.IsZero() {
		st.Timestamp = now
	}
	if st.ChannelCounts == nil {
		st.ChannelCounts = map[string]int{}
	}
	return statsResponse{
		TotalConnections: st.TotalConnections,
		TotalUsers:       st.TotalUsers,
		ChannelCounts:    st.ChannelCounts,
		Timestamp:        herald.FormatTime(st.Timestamp),
		Transports:       st.Transports,
	}
}

// handleStats answers the connection figures: the design document's
// getStats for the node or, in a cluster, for all nodes with a row each.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) error {
	total, nodes, err := s.cfg.Stats(r.Context())
	if err != nil {
		return err
	}
	out := statsOf(total, s.cfg.Now())
	for _, n := range nodes {
		out.Nodes = append(out.Nodes, nodeStats{Node: n.Node, statsResponse: statsOf(n.Stats, s.cfg.Now())})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handlePresence answers whether a user is connected anywhere.
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("userId")
	if err := herald.CheckUserID("userId", id); err != nil {
		return err
	}
	online, nodes, err := s.cfg.Presence(r.Context(), id)
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		UserID string   `json:"userId"`
		Online bool     `json:"online"`
		Nodes  []string `json:"nodes"`
	}{id, online, nodes})
	return nil
}
