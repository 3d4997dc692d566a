package sse

import "github.com/heraldhq/herald/session"

// Resync replays, on every stream, what a broker outage may have lost: each
// holds live messages at once and replays in the background. A cluster
// broker calls it on recovery, as it calls ws.Server.Resync.
func (s *Server) Resync() { s.resync("") }

// ResyncUser is Resync for one user's streams, once a cluster broker's
// subscription to that user's messages is confirmed.
func (s *Server) ResyncUser(user string) { s.resync(user) }

func (s *Server) resync(user string) {
	s.mu.Lock()
	ss := make([]*session.Session, 0, len(s.streams))
	for _, st := range s.streams {
		if user == "" || st.sess.UserID() == user {
			ss = append(ss, st.sess)
		}
	}
	s.mu.Unlock()
	// The engine bounds the replays and shares one per user; a whole-node
	// resync spreads them with jitter, as on the WebSocket path.
	s.engine.Resync(ss, user == "")
}
