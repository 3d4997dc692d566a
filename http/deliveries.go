package http

import (
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
)

// deliveriesPage answers the delivery routes.
type deliveriesPage struct {
	Deliveries []*herald.Delivery `json:"deliveries"`
	NextCursor *string            `json:"nextCursor"` // null on the last page
}

// listDeliveries answers a page of userID's deliveries, newest first:
// ?status= (pending, failed, sent, dead, cancelled), ?notificationId=,
// ?limit= (1 to MaxPageSize, default DefaultPageSize) and ?before= (the
// nextCursor of the previous page).
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, userID, notificationID string) error {
	q := r.URL.Query()
	f := herald.DeliveryFilter{UserID: userID, NotificationID: notificationID, Limit: DefaultPageSize}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return herald.Errorf(herald.EINVALID, "limit must be an integer from 1 to %d", MaxPageSize)
		}
		f.Limit = n
	}
	if v := q.Get("status"); v != "" {
		switch st := herald.DeliveryStatus(v); st {
		case herald.DeliveryPending, herald.DeliveryFailed, herald.DeliverySent, herald.DeliveryDead, herald.DeliveryCancelled:
			f.Status = st
		default:
			return herald.Errorf(herald.EINVALID, "status must be pending, failed, sent, dead or cancelled")
		}
	}
	if v := q.Get("notificationId"); v != "" && notificationID == "" {
		if err := checkNotificationID("notificationId", v); err != nil {
			return err
		}
		f.NotificationID = v
	}
	if v := q.Get("before"); v != "" {
		id, err := herald.ParseID(v)
		if err != nil {
			return herald.Errorf(herald.EINVALID, "before must be a delivery id, as given by nextCursor")
		}
		f.Before = id
	}
	page := f.Limit
	f.Limit++ // one more than the page tells whether another page follows
	ds, err := s.cfg.Deliveries.FindDeliveries(r.Context(), f)
	if err != nil {
		return err
	}
	out := deliveriesPage{Deliveries: ds}
	if len(ds) > page {
		out.Deliveries = ds[:page]
		next := ds[page-1].ID
		out.NextCursor = &next
	}
	if out.Deliveries == nil {
		out.Deliveries = []*herald.Delivery{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleOwnDeliveries lists the token's user's deliveries.
func (s *Server) handleOwnDeliveries(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	return s.listDeliveries(w, r, c.UserID, "")
}

// handleNotificationDeliveries lists the deliveries of one of the user's
// notifications; another user's notification has none.
func (s *Server) handleNotificationDeliveries(w http.ResponseWriter, r *http.Request, c *herald.Claims) error {
	id := r.PathValue("id")
	if err := checkNotificationID("id", id); err != nil {
		return err
	}
	return s.listDeliveries(w, r, c.UserID, id)
}

// handleUserDeliveries lists a user's deliveries for a backend.
func (s *Server) handleUserDeliveries(w http.ResponseWriter, r *http.Request) error {
	userID := r.PathValue("userId")
	if err := herald.CheckUserID("userId", userID); err != nil {
		return err
	}
	return s.listDeliveries(w, r, userID, "")
}
