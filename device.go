package herald

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Platform is a mobile push service a Device is reached through.
type Platform string

// The mobile platforms.
const (
	// PlatformFCM is Firebase Cloud Messaging (Android, and iOS apps that
	// use Firebase).
	PlatformFCM Platform = "fcm"
	// PlatformAPNs is the Apple Push Notification service.
	PlatformAPNs Platform = "apns"
)

// Platforms lists every mobile platform.
var Platforms = []Platform{PlatformFCM, PlatformAPNs}

// Valid reports whether p is one of Platforms.
func (p Platform) Valid() bool { return p == PlatformFCM || p == PlatformAPNs }

// Limits on devices.
const (
	MaxDevices        = 20 // per user; the oldest goes when a new one is added
	MaxDeviceTokenLen = 4096
	MaxAppIDLen       = 255
)

// Device is one installation of a mobile app registered for push: the token
// its platform gave it. A token belongs to one user at a time. Herald never
// logs a token: whoever holds one can push to the phone through a stolen
// provider key, and it identifies the phone.
type Device struct {
	ID       string   `json:"id"`
	UserID   string   `json:"userId"`
	Platform Platform `json:"platform"`
	Token    string   `json:"token"`
	// AppID is the app's bundle id (APNs topic) or package name, when the
	// server serves several; "" for the configured default.
	AppID   string    `json:"appId,omitempty"`
	Created time.Time `json:"createdAt"`
}

// Validate checks d's fields: a user id by the one rule of ValidUserID (so
// that a device is only registered for a user who can connect), a known platform, a token of printable ASCII
// (FCM tokens are base64url with ':', APNs tokens hex) and an app id of at
// most MaxAppIDLen bytes.
func (d *Device) Validate() error {
	switch {
	case !ValidUserID(d.UserID):
		return CheckUserID("userId", d.UserID)
	case !d.Platform.Valid():
		return Errorf(EINVALID, `platform must be "fcm" or "apns"`)
	case d.Token == "" || len(d.Token) > MaxDeviceTokenLen || !printable(d.Token):
		return Errorf(EINVALID, "token must be 1 to %d printable ASCII characters", MaxDeviceTokenLen)
	case d.Platform == PlatformAPNs && !hexText(d.Token):
		return Errorf(EINVALID, "an APNs device token is hexadecimal")
	case len(d.AppID) > MaxAppIDLen || !printable(d.AppID) && d.AppID != "":
		return Errorf(EINVALID, "appId must be at most %d printable ASCII characters", MaxAppIDLen)
	}
	return nil
}

// printable reports whether s is printable ASCII without spaces.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func hexText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// DeviceStore persists mobile devices. The sqlite, postgres and memory
// stores implement it.
type DeviceStore interface {
	// SaveDevice stores d, replacing d.UserID's own registration of the
	// same token (new app id); it sets ID and Created. A token another
	// user holds is ECONFLICT and changes nothing: moving it would hand
	// that user's pushes to whoever learned the token. A user over
	// MaxDevices loses their oldest.
	SaveDevice(ctx context.Context, d *Device) error
	// DeleteDevice removes one of userID's devices; ENOTFOUND when there
	// is none.
	DeleteDevice(ctx context.Context, userID, id string) error
	// FindDevices returns userID's devices, oldest first.
	FindDevices(ctx context.Context, userID string) ([]*Device, error)
}

// PushTargets are where push deliveries of one user can go: browsers'
// subscriptions and mobile devices. The Planner plans one delivery per
// target; Delivery.Target is the subscription's or device's id.
type PushTargets struct {
	Subscriptions []*PushSubscription
	Devices       []*Device
}

// Empty reports whether t has no target.
func (t PushTargets) Empty() bool { return len(t.Subscriptions) == 0 && len(t.Devices) == 0 }

// BadgeSender sets the badge of a device's app icon without showing
// anything: a silent (APNs background, FCM data) message. Herald sends one
// when a user's unread count moves by a read or a delete, so the badge
// stays the exact count.
type BadgeSender interface {
	SendBadge(ctx context.Context, d *Device, unread int) error
}

// RetryError is a provider's refusal that names when to try again (its
// Retry-After), for the outbox's backoff. Err says what failed.
type RetryError struct {
	Err   *Error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }

// Unwrap returns the application error.
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter is how long to wait before the next attempt.
func (e *RetryError) RetryAfter() time.Duration { return e.After }

// ParseRetryAfter reads an HTTP Retry-After value, seconds or an HTTP date,
// as a wait from now; 0 when absent or malformed.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
