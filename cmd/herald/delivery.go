package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
	_ "time/tzdata" // users' time zones, even on hosts without a zoneinfo database

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/sms"
	"github.com/heraldhq/herald/smtp"
	"github.com/heraldhq/herald/webhook"
	"github.com/heraldhq/herald/webpush"
)

// deliverySettings are the settings of delivery beyond the socket: the
// outbox's workers, the type policies and each channel's provider. A channel
// whose provider is not configured is never planned.
var deliverySettings = []setting{
	{"HERALD_DELIVERY_WORKERS", "delivery-workers", "4", "outbox workers sending email, SMS, push and webhooks on this node (0: this node only plans)"},
	{"HERALD_DELIVERY_POLICY_FILE", "delivery-policy-file", "", "JSON file of per-type defaults: channels, escalation steps, digest (empty: in-app only unless users opt in)"},
	{"HERALD_DELIVERY_MAX_ATTEMPTS", "delivery-max-attempts", "8", "attempts before a delivery is dead"},
	{"HERALD_DELIVERY_RETRY_BASE", "delivery-retry-base", "30s", "first retry delay, doubled per attempt"},
	{"HERALD_DELIVERY_RETRY_MAX", "delivery-retry-max", "1h", "longest retry delay"},
	{"HERALD_DELIVERY_LEASE", "delivery-lease", "2m", "how long a worker holds a delivery; a dead worker's deliveries are retried after it"},
	{"HERALD_DELIVERY_RETENTION", "delivery-retention", "720h", "how long finished deliveries stay visible"},
	{"HERALD_DIGEST_PERIOD", "digest-period", "24h", "period of the digest email of low-priority types (24h: at the user's local midnight)"},
	{"SMTP_HOST", "smtp-host", "", "SMTP server for email deliveries (empty: no email)"},
	{"SMTP_PORT", "smtp-port", "587", "SMTP port"},
	{"SMTP_USERNAME", "smtp-username", "", "SMTP AUTH user (empty: no AUTH)"},
	{"SMTP_PASSWORD", "smtp-password", "", "SMTP AUTH password"},
	{"SMTP_FROM", "smtp-from", "", "sender of the emails, such as \"Herald <notify@example.com>\" (required with SMTP_HOST)"},
	{"SMTP_TLS", "smtp-tls", "starttls", "starttls (required), tls (port 465) or none (local relay only)"},
	{"SMTP_TEMPLATE_DIR", "smtp-template-dir", "", "directory of subject.txt, body.txt and body.html email templates (empty: built-in)"},
	{"SMS_ACCOUNT_SID", "sms-account-sid", "", "account of the Twilio-style SMS API (empty: no SMS)"},
	{"SMS_AUTH_TOKEN", "sms-auth-token", "", "auth token of the SMS API"},
	{"SMS_FROM", "sms-from", "", "sending number, E.164 (or SMS_MESSAGING_SERVICE_SID)"},
	{"SMS_MESSAGING_SERVICE_SID", "sms-messaging-service-sid", "", "messaging service that picks the sending number"},
	{"SMS_BASE_URL", "sms-base-url", sms.DefaultBaseURL, "base URL of the SMS API"},
	{"SMS_IDEMPOTENCY_HEADER", "sms-idempotency-header", sms.DefaultIdempotencyHeader, "header carrying the delivery id to the SMS API (- for none)"},
	{"VAPID_PUBLIC_KEY", "vapid-public-key", "", "web push VAPID public key (herald vapid makes a pair; empty: no push)"},
	{"VAPID_PRIVATE_KEY", "vapid-private-key", "", "web push VAPID private key"},
	{"VAPID_SUBJECT", "vapid-subject", "", "contact for push services, mailto: or https: (required with the keys)"},
	{"DELIVERY_ALLOW_PRIVATE", "delivery-allow-private", "false", "let user webhooks and push endpoints reach loopback and private addresses"},
}

func init() { settings = append(settings, deliverySettings...) }

// deliveryParts is the wired delivery service of a node.
type deliveryParts struct {
	svc     *delivery.Service
	store   delivery.Store
	metrics *delivery.Metrics
	workers int
	vapid   string
}

// newInbox makes the node's inbox service (a.inbox, which also fans out
// topic notifications) from c and returns the inbox the transports use:
// planning deliveries in the store's transactions when the store keeps an
// outbox (sqlite and postgres both do), and wrapped for what delivery does
// after a read.
func (a *app) newInbox(c inbox.Config) (herald.Inbox, error) {
	if err := topicConfig(a.cfg, &c); err != nil {
		return nil, err
	}
	st, ok := a.store.(delivery.Store)
	if !ok {
		var err error
		a.inbox, err = inbox.New(c)
		return a.inbox, err
	}
	var err error
	if a.delivery, err = newDelivery(a.cfg, st, a.log); err != nil {
		return nil, err
	}
	c.Planner, c.AfterCreate = a.delivery.svc.Planner(), a.delivery.svc.Planned
	if a.inbox, err = inbox.New(c); err != nil {
		return nil, err
	}
	return a.delivery.svc.Inbox(a.inbox), nil
}

// newDelivery builds the senders and the Service from cfg.
func newDelivery(cfg config, st delivery.Store, log *slog.Logger) (*deliveryParts, error) {
	d := &deliveryParts{store: st, metrics: delivery.NewMetrics(), vapid: cfg.str("VAPID_PUBLIC_KEY")}
	num := func(k string) (int, error) {
		n, err := strconv.Atoi(cfg.str(k))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s must be a non-negative integer, got %q", k, cfg.str(k))
		}
		return n, nil
	}
	dur := func(k string) (time.Duration, error) {
		v, err := time.ParseDuration(cfg.str(k))
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("%s must be a positive duration such as 30s, got %q", k, cfg.str(k))
		}
		return v, nil
	}
	c := delivery.Config{Store: st, Logger: log, Metrics: d.metrics, Senders: map[herald.Channel]herald.ChannelSender{}}
	var err error
	if d.workers, err = num("HERALD_DELIVERY_WORKERS"); err != nil {
		return nil, err
	}
	c.Workers = d.workers
	if c.MaxAttempts, err = num("HERALD_DELIVERY_MAX_ATTEMPTS"); err != nil {
		return nil, err
	}
	for k, dst := range map[string]*time.Duration{
		"HERALD_DELIVERY_RETRY_BASE": &c.RetryBase, "HERALD_DELIVERY_RETRY_MAX": &c.RetryMax,
		"HERALD_DELIVERY_LEASE": &c.Lease, "HERALD_DELIVERY_RETENTION": &c.Retention, "HERALD_DIGEST_PERIOD": &c.DigestPeriod,
	} {
		if *dst, err = dur(k); err != nil {
			return nil, err
		}
	}
	if f := cfg.str("HERALD_DELIVERY_POLICY_FILE"); f != "" {
		doc, err := readJSONSettingFile("HERALD_DELIVERY_POLICY_FILE", f)
		if err != nil {
			return nil, err
		}
		c.Policies, err = delivery.ParsePolicies(bytes.NewReader(doc))
		if err != nil {
			return nil, fmt.Errorf("HERALD_DELIVERY_POLICY_FILE %s: %s", f, herald.ErrorMessage(err))
		}
	}
	allowPrivate, err := strconv.ParseBool(cfg.str("DELIVERY_ALLOW_PRIVATE"))
	if err != nil {
		return nil, fmt.Errorf("DELIVERY_ALLOW_PRIVATE must be true or false")
	}

	if host := cfg.str("SMTP_HOST"); host != "" {
		port, err := strconv.Atoi(cfg.str("SMTP_PORT"))
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("SMTP_PORT must be a port number, got %q", cfg.str("SMTP_PORT"))
		}
		tmpl, err := emailTemplates(cfg.str("SMTP_TEMPLATE_DIR"))
		if err != nil {
			return nil, err
		}
		mail, err := smtp.New(smtp.Config{Host: host, Port: port, Username: cfg.str("SMTP_USERNAME"), Password: cfg.str("SMTP_PASSWORD"),
			From: cfg.str("SMTP_FROM"), TLS: cfg.str("SMTP_TLS"), Templates: tmpl})
		if err != nil {
			return nil, fmt.Errorf("SMTP settings: %s", herald.ErrorMessage(err))
		}
		c.Senders[herald.ChannelEmail] = mail
	}
	if sid := cfg.str("SMS_ACCOUNT_SID"); sid != "" {
		text, err := sms.New(sms.Config{BaseURL: cfg.str("SMS_BASE_URL"), AccountSID: sid, AuthToken: cfg.str("SMS_AUTH_TOKEN"),
			From: cfg.str("SMS_FROM"), MessagingServiceSID: cfg.str("SMS_MESSAGING_SERVICE_SID"), IdempotencyHeader: cfg.str("SMS_IDEMPOTENCY_HEADER")})
		if err != nil {
			return nil, fmt.Errorf("SMS settings: %s", herald.ErrorMessage(err))
		}
		c.Senders[herald.ChannelSMS] = text
	}
	if d.vapid != "" || cfg.str("VAPID_PRIVATE_KEY") != "" {
		push, err := webpush.New(webpush.Config{VAPIDPublicKey: d.vapid, VAPIDPrivateKey: cfg.str("VAPID_PRIVATE_KEY"),
			Subscriber: cfg.str("VAPID_SUBJECT"), AllowPrivate: allowPrivate})
		if err != nil {
			return nil, fmt.Errorf("VAPID settings: %s", herald.ErrorMessage(err))
		}
		c.Senders[herald.ChannelPush] = push
	}
	c.Senders[herald.ChannelWebhook] = webhook.NewUserSender(webhook.UserConfig{AllowPrivate: allowPrivate})
	if err := addMobile(cfg, &c); err != nil { // mobile.go
		return nil, err
	}

	if d.svc, err = delivery.New(c); err != nil {
		return nil, fmt.Errorf("delivery: %s", herald.ErrorMessage(err))
	}
	var channels []string
	for ch := range c.Senders {
		channels = append(channels, string(ch))
	}
	for p := range c.DeviceSenders {
		channels = append(channels, "push:"+string(p))
	}
	log.Info("delivery: channels beyond the socket", "channels", channels, "workers", d.workers)
	return d, nil
}

// emailTemplates reads subject.txt, body.txt and body.html from dir; a
// missing file keeps the built-in template.
func emailTemplates(dir string) (smtp.Templates, error) {
	var t smtp.Templates
	if dir == "" {
		return t, nil
	}
	for name, dst := range map[string]*string{"subject.txt": &t.Subject, "body.txt": &t.Text, "body.html": &t.HTML} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case os.IsNotExist(err):
		case err != nil:
			return t, fmt.Errorf("SMTP_TEMPLATE_DIR: %w", err)
		default:
			*dst = string(b)
		}
	}
	return t, nil
}

// registerDelivery adds the delivery metrics to r.
func (a *app) registerDelivery(r prometheus.Registerer) {
	if a.delivery != nil {
		r.MustRegister(a.delivery.metrics.Collectors()...)
		r.MustRegister(a.delivery.svc.Collector())
	}
}

// preferenceStore, deliveryStore and vapidKey are what the HTTP API serves
// of delivery (nil and "" without it).
func (a *app) preferenceStore() herald.PreferenceStore {
	if a.delivery == nil {
		return nil
	}
	return a.delivery.store
}

func (a *app) deliveryStore() herald.DeliveryStore {
	if a.delivery == nil {
		return nil
	}
	return a.delivery.store
}

func (a *app) vapidKey() string {
	if a.delivery == nil {
		return ""
	}
	return a.delivery.vapid
}

// startDelivery runs the outbox workers until ctx ends; the returned
// function waits for them, so the store closes after their last outcome.
func (a *app) startDelivery(ctx context.Context) (wait func()) {
	if a.delivery == nil || a.delivery.workers == 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.delivery.svc.Run(ctx)
	}()
	return func() { <-done }
}
