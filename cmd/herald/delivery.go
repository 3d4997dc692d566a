package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
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
	{"HERALD_DELIVERY_SEND_TIMEOUT", "delivery-send-timeout", "30s", "bound of one delivery attempt on any channel; the lease is at least twice it"},
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

// DeliveryConfig is delivery beyond the socket: the outbox workers, the
// type policies and each channel's provider (nil: the channel is off).
type DeliveryConfig struct {
	Workers      int
	MaxAttempts  int
	RetryBase    time.Duration
	RetryMax     time.Duration
	Lease        time.Duration
	SendTimeout  time.Duration // one delivery attempt on any channel
	Retention    time.Duration
	DigestPeriod time.Duration
	PolicyFile   string
	AllowPrivate bool
	SMTP         *smtp.Config // Templates are read from TemplateDir at start
	TemplateDir  string
	SMS          *sms.Config
	Push         *webpush.Config
}

func parseDelivery(p *parser, c *Config) {
	d := &c.Delivery
	d.Workers = p.int("HERALD_DELIVERY_WORKERS", 0, math.MaxInt)
	d.MaxAttempts = p.int("HERALD_DELIVERY_MAX_ATTEMPTS", 0, math.MaxInt)
	d.RetryBase = p.dur("HERALD_DELIVERY_RETRY_BASE", time.Nanosecond)
	d.RetryMax = p.dur("HERALD_DELIVERY_RETRY_MAX", time.Nanosecond)
	d.Lease = p.dur("HERALD_DELIVERY_LEASE", time.Nanosecond)
	d.SendTimeout = p.dur("HERALD_DELIVERY_SEND_TIMEOUT", time.Millisecond)
	d.Retention = p.dur("HERALD_DELIVERY_RETENTION", time.Nanosecond)
	d.DigestPeriod = p.dur("HERALD_DIGEST_PERIOD", time.Nanosecond)
	d.PolicyFile = p.str("HERALD_DELIVERY_POLICY_FILE")
	d.AllowPrivate = p.bool("DELIVERY_ALLOW_PRIVATE")
	d.TemplateDir = p.str("SMTP_TEMPLATE_DIR")
	// The providers' constructors only check their configuration, so
	// calling them here refuses a bad one before anything opens.
	if host := p.str("SMTP_HOST"); host != "" {
		port := p.int("SMTP_PORT", 1, 65535)
		if p.str("SMTP_FROM") == "" {
			p.fail("SMTP_FROM", "is required with SMTP_HOST")
		}
		sc := smtp.Config{Host: host, Port: port, Username: p.str("SMTP_USERNAME"), Password: p.str("SMTP_PASSWORD"),
			From: p.str("SMTP_FROM"), TLS: p.str("SMTP_TLS")}
		if _, err := smtp.New(sc); err != nil && p.ok("SMTP_FROM") {
			p.errorf("SMTP_HOST, SMTP_FROM, SMTP_TLS: %s", herald.ErrorMessage(err))
		}
		d.SMTP = &sc
	}
	if sid := p.str("SMS_ACCOUNT_SID"); sid != "" {
		if p.str("SMS_FROM") == "" && p.str("SMS_MESSAGING_SERVICE_SID") == "" {
			p.errorf("SMS_FROM or SMS_MESSAGING_SERVICE_SID is required with SMS_ACCOUNT_SID")
		}
		sc := sms.Config{BaseURL: p.str("SMS_BASE_URL"), AccountSID: sid, AuthToken: p.str("SMS_AUTH_TOKEN"),
			From: p.str("SMS_FROM"), MessagingServiceSID: p.str("SMS_MESSAGING_SERVICE_SID"), IdempotencyHeader: p.str("SMS_IDEMPOTENCY_HEADER")}
		if _, err := sms.New(sc); err != nil {
			p.errorf("SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_BASE_URL: %s", herald.ErrorMessage(err))
		}
		d.SMS = &sc
	}
	if pub, priv := p.str("VAPID_PUBLIC_KEY"), p.str("VAPID_PRIVATE_KEY"); pub != "" || priv != "" {
		wc := webpush.Config{VAPIDPublicKey: pub, VAPIDPrivateKey: priv, Subscriber: p.str("VAPID_SUBJECT"), AllowPrivate: d.AllowPrivate}
		if _, err := webpush.New(wc); err != nil {
			p.errorf("VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT: %s", herald.ErrorMessage(err))
		}
		d.Push = &wc
	}
}

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
	c.TopicChunk, c.TopicPoll = a.cfg.Topics.Chunk, a.cfg.Topics.Poll
	st, ok := a.store.(delivery.Store)
	if !ok {
		var err error
		a.inbox, err = inbox.New(c)
		return a.inbox, err
	}
	var err error
	if a.delivery, err = newDelivery(a.cfg.Delivery, a.cfg.Mobile, st, a.log); err != nil {
		return nil, err
	}
	c.Planner, c.AfterCreate = a.delivery.svc.Planner(), a.delivery.svc.Planned
	if a.inbox, err = inbox.New(c); err != nil {
		return nil, err
	}
	return a.delivery.svc.Inbox(a.inbox), nil
}

// newDelivery builds the senders and the Service from cfg.
func newDelivery(cfg DeliveryConfig, mobile MobileConfig, st delivery.Store, log *slog.Logger) (*deliveryParts, error) {
	d := &deliveryParts{store: st, metrics: delivery.NewMetrics(), workers: cfg.Workers}
	c := delivery.Config{Store: st, Logger: log, Metrics: d.metrics, Senders: map[herald.Channel]herald.ChannelSender{},
		Workers: cfg.Workers, MaxAttempts: cfg.MaxAttempts, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax,
		Lease: cfg.Lease, SendTimeout: cfg.SendTimeout, Retention: cfg.Retention, DigestPeriod: cfg.DigestPeriod}
	if f := cfg.PolicyFile; f != "" {
		doc, err := readJSONSettingFile("HERALD_DELIVERY_POLICY_FILE", f)
		if err != nil {
			return nil, err
		}
		c.Policies, err = delivery.ParsePolicies(bytes.NewReader(doc))
		if err != nil {
			return nil, fmt.Errorf("HERALD_DELIVERY_POLICY_FILE %s: %s", f, herald.ErrorMessage(err))
		}
	}
	if cfg.SMTP != nil {
		sc := *cfg.SMTP
		var err error
		if sc.Templates, err = emailTemplates(cfg.TemplateDir); err != nil {
			return nil, err
		}
		mail, err := smtp.New(sc)
		if err != nil {
			return nil, fmt.Errorf("SMTP settings: %s", herald.ErrorMessage(err))
		}
		c.Senders[herald.ChannelEmail] = mail
	}
	if cfg.SMS != nil {
		text, err := sms.New(*cfg.SMS)
		if err != nil {
			return nil, fmt.Errorf("SMS settings: %s", herald.ErrorMessage(err))
		}
		c.Senders[herald.ChannelSMS] = text
	}
	if cfg.Push != nil {
		push, err := webpush.New(*cfg.Push)
		if err != nil {
			return nil, fmt.Errorf("VAPID settings: %s", herald.ErrorMessage(err))
		}
		c.Senders[herald.ChannelPush] = push
		d.vapid = cfg.Push.VAPIDPublicKey
	}
	c.Senders[herald.ChannelWebhook] = webhook.NewUserSender(webhook.UserConfig{AllowPrivate: cfg.AllowPrivate})
	if err := addMobile(mobile, &c); err != nil { // mobile.go
		return nil, err
	}

	var err error
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
