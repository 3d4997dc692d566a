// Package smtp sends Herald's email deliveries through an SMTP server (a
// relay such as Postfix, or a provider's submission port): STARTTLS by
// default, authentication when a username is set, and a text body with an
// HTML alternative rendered from templates. It implements
// herald.ChannelSender for the email channel, over github.com/wneessen/go-mail.
//
// SMTP takes no idempotency key; every message carries the delivery id as its
// Message-ID (and in X-Herald-Delivery-Id), so a retry after a lost reply has
// the same id as the first copy and mail clients that thread or deduplicate
// on it show it once.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/heraldhq/herald"
)

// Defaults of Config.
const (
	DefaultPort    = 587
	DefaultTimeout = 30 * time.Second
)

// TLS modes of Config.TLS.
const (
	// STARTTLS upgrades the connection and refuses a server that cannot
	// (the default).
	STARTTLS = "starttls"
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS = "tls"
	// NoTLS sends in the clear, for a relay on the same host only.
	NoTLS = "none"
)

// Config configures a Sender. Host and From are required.
type Config struct {
	// Host is the SMTP server's host name. Required.
	Host string
	// Port is its port (default 587, the submission port).
	Port int
	// Username and Password authenticate (PLAIN or LOGIN, whichever the
	// server offers, after TLS). Empty Username sends without AUTH.
	Username, Password string
	// From is the sender, such as "Herald <notify@example.com>". Required.
	From string
	// TLS is STARTTLS (default), ImplicitTLS or NoTLS.
	TLS string
	// TLSConfig verifies the server (default: the system roots and Host).
	TLSConfig *tls.Config
	// Timeout bounds connecting and each command (default 30s).
	Timeout time.Duration
	// Templates render the message (default DefaultTemplates).
	Templates Templates
}

// Sender sends email deliveries. It is safe for concurrent use: each send
// opens its own connection.
type Sender struct {
	client *gomail.Client
	from   *mail.Address
	domain string
	tmpl   *templates
}

var _ herald.ChannelSender = (*Sender)(nil)

// New returns a Sender for c, checking its settings and templates.
func New(c Config) (*Sender, error) {
	if c.Host == "" {
		return nil, herald.Errorf(herald.EINVALID, "smtp: a host is required")
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, herald.Errorf(herald.EINVALID, "smtp: the From address is malformed")
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	tlsConfig := c.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = c.Host
	}
	opts := []gomail.Option{
		gomail.WithPort(c.Port),
		gomail.WithTimeout(c.Timeout),
		gomail.WithTLSConfig(tlsConfig),
	}
	switch strings.ToLower(c.TLS) {
	case "", STARTTLS:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSMandatory))
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSLPort(false))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.NoTLS))
	default:
		return nil, herald.Errorf(herald.EINVALID, "smtp: TLS must be %s, %s or %s", STARTTLS, ImplicitTLS, NoTLS)
	}
	if c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	client, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return nil, herald.Errorf(herald.EINVALID, "smtp: %s", err.Error())
	}
	tmpl, err := c.Templates.parse()
	if err != nil {
		return nil, err
	}
	domain := "herald.invalid"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	return &Sender{client: client, from: from, domain: domain, tmpl: tmpl}, nil
}

// Send renders m and sends it to m.Email. A server that defers the message
// (4xx) or cannot be reached is EUNAVAILABLE, to be retried; one that refuses
// the recipient or the message for good (5xx) is EUNPROCESSABLE.
func (s *Sender) Send(ctx context.Context, m *herald.Outbound) error {
	if m.Email == "" || len(m.Notifications) == 0 || m.Delivery == nil {
		return herald.Errorf(herald.EINVALID, "an email needs an address, a delivery and a notification")
	}
	body, err := s.tmpl.render(m)
	if err != nil {
		return err
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.Email); err != nil {
		return herald.Errorf(herald.EINVALID, "the email address is malformed")
	}
	msg.Subject(body.subject)
	msg.SetMessageIDWithValue(m.Delivery.ID + "@" + s.domain)
	msg.SetDate()
	msg.SetGenHeader("X-Herald-Delivery-Id", m.Delivery.ID)
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	msg.SetBodyString(gomail.TypeTextPlain, body.text)
	msg.AddAlternativeString(gomail.TypeTextHTML, body.html)

	err = s.client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch se.Reason {
		case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			if code >= 500 && code < 600 {
				return herald.Errorf(herald.EUNPROCESSABLE, "the mail server refused the message (%d)", code)
			}
		}
		if code > 0 {
			return herald.Errorf(herald.EUNAVAILABLE, "the mail server deferred the message (%d)", code)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Dial, TLS and AUTH failures: the server or its settings, not the
	// message. The detail goes to no log, since it may quote the server.
	return herald.Errorf(herald.EUNAVAILABLE, "cannot reach the mail server or sign in to it")
}

// oneLine flattens s for a header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
