package herald

import (
	"context"
	"maps"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AnyType is the key of Preferences.Types and of the type policies that
// applies to every notification type without an entry of its own.
const AnyType = "*"

// Preferences is how a user wants to be reached, and where: channel switches
// per notification type, quiet hours in the user's time zone, and contact
// points. A user who never saved any has the zero Preferences, and the type
// policies decide alone.
type Preferences struct {
	UserID string
	// Types maps a notification type, or AnyType, to the channels the user
	// turned on or off for it. A channel the user did not set for a type
	// falls back to the user's AnyType entry, then to the type's policy.
	// Turning a channel off also stops escalations over it.
	Types map[string]map[Channel]bool
	// TimeZone is an IANA zone name such as "Europe/Paris"; "" is UTC.
	TimeZone string
	// QuietHours, when set, holds email, SMS and push until they end, in
	// TimeZone. A critical notification ignores them.
	QuietHours *QuietHours

	// Contact points.
	Email         string
	Phone         string // E.164, such as +14155550100
	WebhookURL    string // http or https
	WebhookSecret string // HMAC-SHA256 key of the webhook's signature; never shown back

	UpdatedAt time.Time
}

// QuietHours is a daily window, from Start to End in the user's local time,
// "HH:MM" each. End before Start spans midnight (22:00 to 07:00).
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Limits on preferences.
const (
	MaxPreferenceTypes = 200
	MaxEmailLen        = 254
	MaxWebhookURLLen   = 2048
	MaxSecretLen       = 256
	MinSecretLen       = 16
)

// Validate reports the first field of p that is malformed, as an EINVALID
// *Error naming it.
func (p *Preferences) Validate() error {
	if p.UserID == "" || len(p.UserID) > MaxUserIDLen {
		return Errorf(EINVALID, "userId must be 1 to %d bytes", MaxUserIDLen)
	}
	if len(p.Types) > MaxPreferenceTypes {
		return Errorf(EINVALID, "types holds more than %d entries", MaxPreferenceTypes)
	}
	for typ, chans := range p.Types {
		if typ == "" || len(typ) > MaxTypeLen || !utf8.ValidString(typ) || strings.IndexByte(typ, 0) >= 0 {
			return Errorf(EINVALID, "types: a type must be 1 to %d bytes of text", MaxTypeLen)
		}
		for c := range chans {
			if !c.Valid() {
				return Errorf(EINVALID, "types.%s: unknown channel %q", typ, c)
			}
		}
	}
	if _, err := p.Location(); err != nil {
		return err
	}
	if q := p.QuietHours; q != nil {
		if _, err := ParseClock(q.Start); err != nil {
			return Errorf(EINVALID, "quietHours.start must be HH:MM")
		}
		if _, err := ParseClock(q.End); err != nil {
			return Errorf(EINVALID, "quietHours.end must be HH:MM")
		}
	}
	if p.Email != "" {
		a, err := mail.ParseAddress(p.Email)
		if err != nil || a.Address != p.Email || len(p.Email) > MaxEmailLen {
			return Errorf(EINVALID, "email must be a plain address such as ana@example.com")
		}
	}
	if p.Phone != "" && !validPhone(p.Phone) {
		return Errorf(EINVALID, "phone must be in E.164 form, such as +14155550100")
	}
	if p.WebhookURL != "" {
		u, err := url.Parse(p.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(p.WebhookURL) > MaxWebhookURLLen {
			return Errorf(EINVALID, "webhookUrl must be an http or https URL without credentials, at most %d bytes", MaxWebhookURLLen)
		}
		if len(p.WebhookSecret) < MinSecretLen || len(p.WebhookSecret) > MaxSecretLen {
			return Errorf(EINVALID, "webhookSecret must be %d to %d bytes with webhookUrl", MinSecretLen, MaxSecretLen)
		}
	}
	return nil
}

// Clone returns a copy of p that shares no memory with it, for a store that
// keeps preferences and hands them out.
func (p *Preferences) Clone() *Preferences {
	c := *p
	if p.Types != nil {
		c.Types = make(map[string]map[Channel]bool, len(p.Types))
		for typ, chans := range p.Types {
			c.Types[typ] = maps.Clone(chans)
		}
	}
	if p.QuietHours != nil {
		q := *p.QuietHours
		c.QuietHours = &q
	}
	return &c
}

// Location returns the user's time zone; EINVALID when TimeZone names none.
func (p *Preferences) Location() (*time.Location, error) {
	if p.TimeZone == "" {
		return time.UTC, nil
	}
	if len(p.TimeZone) > 64 || strings.ContainsAny(p.TimeZone, "\\\x00") || strings.Contains(p.TimeZone, "..") {
		return nil, Errorf(EINVALID, "timeZone must be an IANA zone name such as Europe/Paris")
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return nil, Errorf(EINVALID, "timeZone must be an IANA zone name such as Europe/Paris")
	}
	return loc, nil
}

// Setting returns the user's switch for channel c on notifications of typ,
// falling back to their AnyType entry; set is false when they chose neither.
func (p *Preferences) Setting(typ string, c Channel) (on, set bool) {
	if p == nil {
		return false, false
	}
	if on, set = p.Types[typ][c]; set {
		return on, true
	}
	on, set = p.Types[AnyType][c]
	return on, set
}

// ParseClock parses "HH:MM" (24-hour) into minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, Errorf(EINVALID, "time must be HH:MM")
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, Errorf(EINVALID, "time must be HH:MM")
	}
	return hh*60 + mm, nil
}

func validPhone(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// PushSubscription is a browser's Push API subscription (RFC 8030 endpoint
// with RFC 8291 keys), as PushSubscription.toJSON() gives it.
type PushSubscription struct {
	ID       string    `json:"id"`
	UserID   string    `json:"userId"`
	Endpoint string    `json:"endpoint"`
	P256dh   string    `json:"p256dh"` // the browser's public key, base64url
	Auth     string    `json:"auth"`   // the authentication secret, base64url
	Created  time.Time `json:"createdAt"`
}

// Limits on push subscriptions.
const (
	MaxPushSubscriptions = 20 // per user; the oldest goes when a new one is added
	MaxEndpointLen       = 2048
)

// Validate checks s looks like a browser subscription: an https endpoint and
// keys of the right form. It does not contact the push service.
func (s *PushSubscription) Validate() error {
	u, err := url.Parse(s.Endpoint)
	switch {
	case s.UserID == "" || len(s.UserID) > MaxUserIDLen:
		return Errorf(EINVALID, "userId must be 1 to %d bytes", MaxUserIDLen)
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(s.Endpoint) > MaxEndpointLen:
		return Errorf(EINVALID, "endpoint must be an https URL of at most %d bytes", MaxEndpointLen)
	case !base64URL(s.P256dh, 87, 88):
		return Errorf(EINVALID, "keys.p256dh must be an uncompressed P-256 public key in base64url")
	case !base64URL(s.Auth, 22, 24):
		return Errorf(EINVALID, "keys.auth must be a 16-byte secret in base64url")
	}
	return nil
}

// base64URL reports whether s is base64url text (padding allowed) of min to max characters.
func base64URL(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, c := range strings.TrimRight(s, "=") {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// PreferenceStore persists preferences and push subscriptions. The sqlite,
// postgres and memory stores implement it.
type PreferenceStore interface {
	// FindPreferences returns userID's preferences: the zero Preferences
	// (with UserID set) when none were saved.
	FindPreferences(ctx context.Context, userID string) (*Preferences, error)
	// UpdatePreferences calls fn with userID's preferences and saves what
	// it leaves, atomically: concurrent updates of one user apply one after
	// the other. fn's error aborts the update and is returned. The saved
	// preferences are validated and returned with UpdatedAt set.
	UpdatePreferences(ctx context.Context, userID string, fn func(p *Preferences) error) (*Preferences, error)
	// SavePushSubscription stores s, replacing s.UserID's own registration
	// of the same endpoint (new keys); it sets ID and Created. An endpoint
	// another user holds is ECONFLICT and changes nothing: moving it would
	// hand that user's pushes to whoever learned the URL. A user over
	// MaxPushSubscriptions loses their oldest.
	SavePushSubscription(ctx context.Context, s *PushSubscription) error
	// DeletePushSubscription removes one of userID's subscriptions;
	// ENOTFOUND when there is none.
	DeletePushSubscription(ctx context.Context, userID, id string) error
	// FindPushSubscriptions returns userID's subscriptions, oldest first.
	FindPushSubscriptions(ctx context.Context, userID string) ([]*PushSubscription, error)
}

// Escalation is one step of a type's escalation: if the notification is still
// unread in the app After its creation, send it over Channel.
type Escalation struct {
	After   time.Duration
	Channel Channel
}

// TypePolicy is how notifications of one type go out unless the user says
// otherwise: the default channel switches, the escalation steps, and whether
// its emails wait for the digest.
type TypePolicy struct {
	// Channels holds the default switches; a channel absent is off, except
	// in_app, which is on unless set false.
	Channels map[Channel]bool
	// Escalation steps, in any order. A step over a channel the user turned
	// off for the type, or that already went out at once, is skipped.
	Escalation []Escalation
	// Digest gathers the type's emails into the user's periodic digest
	// instead of one email each; a critical notification still goes at once.
	Digest bool
}
