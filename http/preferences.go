package http

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald"
)

// preferencesBody is the wire form of herald.Preferences. The webhook secret
// is write-only: answers say whether one is set, never what it is.
type preferencesBody struct {
	UserID           string                             `json:"userId"`
	Types            map[string]map[herald.Channel]bool `json:"types"`
	TimeZone         string                             `json:"timeZone"`
	QuietHours       *herald.QuietHours                 `json:"quietHours"`
	Email            string                             `json:"email"`
	Phone            string                             `json:"phone"`
	WebhookURL       string                             `json:"webhookUrl"`
	WebhookSecretSet bool                               `json:"webhookSecretSet"`
	UpdatedAt        *string                            `json:"updatedAt"` // null until first saved
}

func preferencesOut(p *herald.Preferences) preferencesBody {
	b := preferencesBody{
		UserID: p.UserID, Types: p.Types, TimeZone: p.TimeZone, QuietHours: p.QuietHours,
		Email: p.Email, Phone: p.Phone, WebhookURL: p.WebhookURL, WebhookSecretSet: p.WebhookSecret != "",
	}
	if b.Types == nil {
		b.Types = map[string]map[herald.Channel]bool{}
	}
	if !p.UpdatedAt.IsZero() {
		t := herald.FormatTime(p.UpdatedAt)
		b.UpdatedAt = &t
	}
	return b
}

// preferencesInput is the body of PUT: every field, the secret optional
// (omitted keeps the stored one, so a client can PUT back what it read).
type preferencesInput struct {
	Types         map[string]map[herald.Channel]bool `json:"types"`
	TimeZone      string                             `json:"timeZone"`
	QuietHours    *herald.QuietHours                 `json:"quietHours"`
	Email         string                             `json:"email"`
	Phone         string                             `json:"phone"`
	WebhookURL    string                             `json:"webhookUrl"`
	WebhookSecret *string                            `json:"webhookSecret"`
}

// getPreferences answers the preferences of the user the route names
// (userID) or of the token's user.
func (s *Server) getPreferences(w http.ResponseWriter, r *http.Request, userID string) error {
	p, err := s.cfg.Preferences.FindPreferences(r.Context(), userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, preferencesOut(p))
	return nil
}

// putPreferences replaces userID's preferences with the body.
func (s *Server) putPreferences(w http.ResponseWriter, r *http.Request, userID string) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in preferencesInput
	if err := decodeObject(body, &in, false); err != nil {
		return err
	}
	p, err := s.cfg.Preferences.UpdatePreferences(r.Context(), userID, func(p *herald.Preferences) error {
		secret := p.WebhookSecret
		if in.WebhookSecret != nil {
			secret = *in.WebhookSecret
		}
		*p = herald.Preferences{
			UserID: userID, Types: in.Types, TimeZone: in.TimeZone, QuietHours: in.QuietHours,
			Email: in.Email, Phone: in.Phone, WebhookURL: in.WebhookURL, WebhookSecret: secret,
		}
		if p.WebhookURL == "" {
			p.WebhookSecret = ""
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, preferencesOut(p))
	return nil
}

// patchPreferences changes only the fields the body names. In "types", a
// type set to null is removed, and so is a channel set to null; other
// channels of the type keep their switch.
func (s *Server) patchPreferences(w http.ResponseWriter, r *http.Request, userID string) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var patch map[string]json.RawMessage
	if err := decodeObject(body, &patch, false); err != nil {
		return err
	}
	p, err := s.cfg.Preferences.UpdatePreferences(r.Context(), userID, func(p *herald.Preferences) error {
		return applyPatch(p, patch)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, preferencesOut(p))
	return nil
}

// applyPatch applies a PATCH body to p.
func applyPatch(p *herald.Preferences, patch map[string]json.RawMessage) error {
	isNull := func(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }
	str := func(field string, v json.RawMessage, dst *string) error {
		if isNull(v) {
			*dst = ""
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return herald.Errorf(herald.EINVALID, "%s must be a string", field)
		}
		return nil
	}
	for field, v := range patch {
		var err error
		switch field {
		case "types":
			var types map[string]map[herald.Channel]*bool
			if err := json.Unmarshal(v, &types); err != nil {
				return herald.Errorf(herald.EINVALID, "types must map types to {channel: true, false or null}")
			}
			if p.Types == nil {
				p.Types = map[string]map[herald.Channel]bool{}
			}
			for typ, chans := range types {
				if chans == nil {
					delete(p.Types, typ)
					continue
				}
				if p.Types[typ] == nil {
					p.Types[typ] = map[herald.Channel]bool{}
				}
				for c, on := range chans {
					if on == nil {
						delete(p.Types[typ], c)
					} else {
						p.Types[typ][c] = *on
					}
				}
				if len(p.Types[typ]) == 0 {
					delete(p.Types, typ)
				}
			}
		case "timeZone":
			err = str(field, v, &p.TimeZone)
		case "quietHours":
			p.QuietHours = nil
			if !isNull(v) {
				var q herald.QuietHours
				if json.Unmarshal(v, &q) != nil {
					return herald.Errorf(herald.EINVALID, "quietHours must be {\"start\":\"HH:MM\",\"end\":\"HH:MM\"} or null")
				}
				p.QuietHours = &q
			}
		case "email":
			err = str(field, v, &p.Email)
		case "phone":
			err = str(field, v, &p.Phone)
		case "webhookUrl":
			err = str(field, v, &p.WebhookURL)
		case "webhookSecret":
			err = str(field, v, &p.WebhookSecret)
		case "userId", "updatedAt", "webhookSecretSet":
			// read-only; echoed back by clients that PATCH what they read
		default:
			return herald.Errorf(herald.EINVALID, "unknown field %q", field)
		}
		if err != nil {
			return err
		}
	}
	if p.WebhookURL == "" {
		p.WebhookSecret = ""
	}
	return nil
}

// pushSubscriptionInput is what PushSubscription.toJSON() gives in a browser.
type pushSubscriptionInput struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// handleCreatePushSubscription stores the browser subscription in the body
// for the token's user: 201 with it.
func (s *Server) handleCreatePushSubscription(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in pushSubscriptionInput
	if err := decodeObject(body, &in, false); err != nil {
		return err
	}
	sub := &herald.PushSubscription{UserID: c.UserID, Endpoint: in.Endpoint, P256dh: in.Keys.P256dh, Auth: in.Keys.Auth}
	if err := s.cfg.Preferences.SavePushSubscription(r.Context(), sub); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sub)
	return nil
}

// handleListPushSubscriptions answers the token's user's subscriptions.
func (s *Server) handleListPushSubscriptions(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	subs, err := s.cfg.Preferences.FindPushSubscriptions(r.Context(), c.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Subscriptions []*herald.PushSubscription `json:"subscriptions"`
	}{subs})
	return nil
}

// handleDeletePushSubscription removes one of the user's subscriptions: 204.
func (s *Server) handleDeletePushSubscription(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	id := r.PathValue("id")
	if err := checkNotificationID("id", id); err != nil {
		return err
	}
	if err := s.cfg.Preferences.DeletePushSubscription(r.Context(), c.UserID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handlePushKey answers the VAPID public key browsers subscribe with.
func (s *Server) handlePushKey(w http.ResponseWriter, r *http.Request, _ *herald.Claims) error {
	writeJSON(w, http.StatusOK, struct {
		PublicKey string `json:"publicKey"`
	}{s.cfg.VAPIDPublicKey})
	return nil
}

// ownPreferences adapts a preference handler to the user's own routes.
func (s *Server) ownPreferences(h func(w http.ResponseWriter, r *http.Request, userID string) error) userHandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *herald.Claims) error { return h(w, r, c.UserID) }
}

// backendPreferences adapts a preference handler to the backend routes,
// which name the user in the path.
func (s *Server) backendPreferences(h func(w http.ResponseWriter, r *http.Request, userID string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		userID := r.PathValue("userId")
		if err := herald.CheckUserID("userId", userID); err != nil {
			return err
		}
		return h(w, r, userID)
	}
}
