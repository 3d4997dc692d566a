package http

import (
	"net/http"

	"github.com/heraldhq/herald"
)

// deviceInput is the body of POST /api/devices: what a mobile app has after
// registering with its platform.
type deviceInput struct {
	Platform herald.Platform `json:"platform"`
	Token    string          `json:"token"`
	AppID    string          `json:"appId"`
}

// deviceRoutes mounts the mobile device routes: the user's own with a
// connection token, a backend's by user with the API key.
func (s *Server) deviceRoutes() {
	if s.cfg.Devices == nil {
		return
	}
	s.route("GET /api/users/{userId}/devices", s.backend(s.backendPreferences(s.listDevices)))
	s.route("POST /api/users/{userId}/devices", s.backend(s.backendPreferences(s.createDevice)))
	s.route("DELETE /api/users/{userId}/devices/{id}", s.backend(s.backendPreferences(s.deleteDevice)))
	if s.cfg.Verifier != nil {
		s.route("GET /api/devices", s.user(s.ownPreferences(s.listDevices)))
		s.route("POST /api/devices", s.user(s.ownPreferences(s.createDevice)))
		s.route("DELETE /api/devices/{id}", s.user(s.ownPreferences(s.deleteDevice)))
	}
}

// createDevice registers the device in the body for userID: 201 with it. A
// token another user holds is 409, and stays theirs.
func (s *Server) createDevice(w http.ResponseWriter, r *http.Request, userID string) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in deviceInput
	if err := decodeObject(body, &in, false); err != nil {
		return err
	}
	d := &herald.Device{UserID: userID, Platform: in.Platform, Token: in.Token, AppID: in.AppID}
	if err := s.cfg.Devices.SaveDevice(r.Context(), d); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

// listDevices answers userID's devices, oldest first.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, userID string) error {
	ds, err := s.cfg.Devices.FindDevices(r.Context(), userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Devices []*herald.Device `json:"devices"`
	}{ds})
	return nil
}

// deleteDevice removes one of userID's devices: 204.
func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, userID string) error {
	id := r.PathValue("id")
	if err := checkNotificationID("id", id); err != nil {
		return err
	}
	if err := s.cfg.Devices.DeleteDevice(r.Context(), userID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
