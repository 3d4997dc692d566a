package http

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
)

// topicRoutes mounts the topic routes of the server API: membership, sends
// and their progress. All take the API key (or a login access token).
func (s *Server) topicRoutes() {
	if s.cfg.Topics == nil {
		return
	}
	s.api.HandleFunc("PUT /api/topics/{topic}/members", s.backend(s.handleAddMembers))
	s.api.HandleFunc("DELETE /api/topics/{topic}/members", s.backend(s.handleRemoveMembers))
	s.api.HandleFunc("GET /api/topics/{topic}/members", s.backend(s.handleListMembers))
	s.api.HandleFunc("POST /api/topics/{topic}/notifications", s.backend(s.handleSendToTopic))
	s.api.HandleFunc("GET /api/topics/{topic}/notifications/{id}", s.backend(s.handleTopicSend))
}

// isTopicMembers reports whether path is /api/topics/{topic}/members, whose
// PUT and DELETE take up to herald.MaxTopicMembersPerCall user ids and so
// the batch body limit (see bodyLimit).
func isTopicMembers(path string) bool {
	rest, ok := strings.CutPrefix(path, "/api/topics/")
	if !ok {
		return false
	}
	topic, ok := strings.CutSuffix(rest, "/members")
	return ok && topic != "" && !strings.Contains(topic, "/")
}

// membersInput reads a membership body: a JSON array of user ids, or an
// object with them under "userIds".
func membersInput(body []byte) ([]string, error) {
	var ids []string
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &ids); err != nil {
			return nil, herald.Errorf(herald.EINVALID, "Request body must be a JSON array of user ids")
		}
		return ids, nil
	}
	var in struct {
		UserIDs *[]string `json:"userIds"`
	}
	if err := decodeObject(body, &in, false); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "Request body must be a JSON array of user ids, or {\"userIds\":[…]}")
	}
	if in.UserIDs == nil {
		return nil, herald.Errorf(herald.EINVALID, "userIds is required")
	}
	return *in.UserIDs, nil
}

// handleAddMembers adds the body's users to the topic: {"added":N}, N being
// those that were not members yet. Adding members again changes nothing.
func (s *Server) handleAddMembers(w http.ResponseWriter, r *http.Request) error {
	return s.membership(w, r, "added", s.cfg.Topics.AddTopicMembers)
}

// handleRemoveMembers removes the body's users from the topic:
// {"removed":N}, N being those that were members.
func (s *Server) handleRemoveMembers(w http.ResponseWriter, r *http.Request) error {
	return s.membership(w, r, "removed", s.cfg.Topics.RemoveTopicMembers)
}

func (s *Server) membership(w http.ResponseWriter, r *http.Request, field string,
	change func(ctx context.Context, topic string, ids []string) (int, error)) error {
	topic := r.PathValue("topic")
	if err := herald.CheckTopic(topic); err != nil {
		return err
	}
	body, err := readBody(w, r, s.cfg.MaxBatchBodyBytes)
	if err != nil {
		return err
	}
	ids, err := membersInput(body)
	if err != nil {
		return err
	}
	n, err := change(r.Context(), topic, ids)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{field: n})
	return nil
}

// handleListMembers answers a page of the topic's members in id order:
// ?limit= (1 to herald.MaxTopicPage, default 100) and ?after= (the
// nextCursor of the previous page), as {"userIds":[…],"nextCursor":…|null}.
func (s *Server) handleListMembers(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	if err := herald.CheckTopic(topic); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > herald.MaxTopicPage {
			return herald.Errorf(herald.EINVALID, "limit must be an integer from 1 to %d", herald.MaxTopicPage)
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" && !herald.ValidUserID(after) {
		return herald.Errorf(herald.EINVALID, "after must be a user id, as given by nextCursor")
	}
	ids, err := s.cfg.Topics.TopicMembers(r.Context(), topic, after, limit)
	if err != nil {
		return err
	}
	resp := struct {
		UserIDs    []string `json:"userIds"`
		NextCursor *string  `json:"nextCursor"` // null on the last page
	}{UserIDs: ids}
	if len(ids) == limit {
		resp.NextCursor = &ids[len(ids)-1]
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// handleSendToTopic sends the body's notification (as for POST
// /api/notifications, without userId and id) to every member of the topic.
// It answers 202 with the send ({"id","topic","members","delivered",
// "status",…}) once the send is stored: the members' copies are created and
// delivered after, and GET …/notifications/{id} follows their progress. A
// retry with the same Idempotency-Key answers 200 with the first send.
func (s *Server) handleSendToTopic(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	if err := herald.CheckTopic(topic); err != nil {
		return err
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var n herald.NewNotification
	if err := decodeObject(body, &n, false); err != nil {
		return err
	}
	if err := normalizeData(&n); err != nil {
		return err
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		n.IdempotencyKey = key
	}
	send, replayed, err := s.cfg.Topics.SendToTopic(r.Context(), topic, &n)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, send)
	return nil
}

// handleTopicSend answers a send of the topic with its progress.
func (s *Server) handleTopicSend(w http.ResponseWriter, r *http.Request) error {
	send, err := s.cfg.Topics.TopicSend(r.Context(), r.PathValue("topic"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, send)
	return nil
}
