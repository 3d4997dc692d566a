package main

import (
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/apns"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/fcm"
)

// mobileSettings are the settings of mobile push: Firebase Cloud Messaging
// for Android (and Firebase iOS apps), the Apple Push Notification service
// for iOS. A platform whose settings are empty gets no push.
var mobileSettings = []setting{
	{"FCM_CREDENTIALS_FILE", "fcm-credentials-file", "", "Firebase service-account key file (JSON) for FCM HTTP v1 (empty: no FCM)"},
	{"FCM_BASE_URL", "fcm-base-url", fcm.DefaultBaseURL, "FCM API root"},
	{"APNS_KEY_FILE", "apns-key-file", "", "APNs authentication key (.p8) for token-based APNs (empty: no APNs)"},
	{"APNS_KEY_ID", "apns-key-id", "", "the .p8 key's key id (required with APNS_KEY_FILE)"},
	{"APNS_TEAM_ID", "apns-team-id", "", "the Apple developer team id (required with APNS_KEY_FILE)"},
	{"APNS_TOPIC", "apns-topic", "", "the app's bundle id, for devices registered without an appId (required with APNS_KEY_FILE)"},
	{"APNS_ENV", "apns-env", "production", "production, or sandbox for development builds of the app"},
	{"APNS_HOST", "apns-host", "", "APNs base URL overriding APNS_ENV's host (empty: Apple's)"},
	{"MOBILE_PUSH_TTL", "mobile-push-ttl", "24h", "how long FCM and APNs keep a notification for a phone that is offline"},
	{"MOBILE_SEND_TIMEOUT", "mobile-send-timeout", "15s", "bound of one request to FCM or APNs"},
	{"HERALD_DELIVERY_SEND_TIMEOUT", "delivery-send-timeout", "30s", "bound of one delivery attempt on any channel; the lease is at least twice it"},
	{"HERALD_BADGE_INTERVAL", "badge-interval", "3s", "at most one silent badge update per user per this interval after reads"},
}

func init() { settings = append(settings, mobileSettings...) }

// mobileConfig is the parsed mobile push settings.
type mobileConfig struct {
	FCMCredentialsFile, FCMBaseURL     string
	APNSKeyFile, APNSKeyID, APNSTeamID string
	APNSTopic, APNSHost                string
	APNSSandbox                        bool
	TTL, SendTimeout, BadgeInterval    time.Duration
	// DeliverySendTimeout bounds one delivery attempt on any channel.
	DeliverySendTimeout time.Duration
}

// parseMobile reads the mobile settings of cfg.
func parseMobile(cfg config) (mobileConfig, error) {
	m := mobileConfig{
		FCMCredentialsFile: cfg.str("FCM_CREDENTIALS_FILE"), FCMBaseURL: cfg.str("FCM_BASE_URL"),
		APNSKeyFile: cfg.str("APNS_KEY_FILE"), APNSKeyID: cfg.str("APNS_KEY_ID"), APNSTeamID: cfg.str("APNS_TEAM_ID"),
		APNSTopic: cfg.str("APNS_TOPIC"), APNSHost: cfg.str("APNS_HOST"),
	}
	switch cfg.str("APNS_ENV") {
	case "production", "":
	case "sandbox", "development":
		m.APNSSandbox = true
	default:
		return m, fmt.Errorf("APNS_ENV must be production or sandbox, got %q", cfg.str("APNS_ENV"))
	}
	for k, dst := range map[string]*time.Duration{"MOBILE_PUSH_TTL": &m.TTL, "MOBILE_SEND_TIMEOUT": &m.SendTimeout, "HERALD_BADGE_INTERVAL": &m.BadgeInterval,
		"HERALD_DELIVERY_SEND_TIMEOUT": &m.DeliverySendTimeout} {
		v, err := time.ParseDuration(cfg.str(k))
		if err != nil || v <= 0 {
			return m, fmt.Errorf("%s must be a positive duration such as 30s, got %q", k, cfg.str(k))
		}
		*dst = v
	}
	if m.APNSKeyFile != "" && (m.APNSKeyID == "" || m.APNSTeamID == "" || m.APNSTopic == "") {
		return m, fmt.Errorf("APNS_KEY_FILE needs APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC")
	}
	return m, nil
}

// addMobile adds the FCM and APNs senders the settings configure to c.
func addMobile(cfg config, c *delivery.Config) error {
	m, err := parseMobile(cfg)
	if err != nil {
		return err
	}
	c.BadgeInterval, c.SendTimeout = m.BadgeInterval, m.DeliverySendTimeout
	add := func(p herald.Platform, s interface {
		herald.ChannelSender
		herald.BadgeSender
	}) {
		if c.DeviceSenders == nil {
			c.DeviceSenders, c.Badges = map[herald.Platform]herald.ChannelSender{}, map[herald.Platform]herald.BadgeSender{}
		}
		c.DeviceSenders[p], c.Badges[p] = s, s
	}
	if m.FCMCredentialsFile != "" {
		creds, err := readSettingFile("FCM_CREDENTIALS_FILE", m.FCMCredentialsFile)
		if err != nil {
			return err
		}
		s, err := fcm.New(fcm.Config{Credentials: creds, BaseURL: m.FCMBaseURL, TTL: m.TTL, Timeout: m.SendTimeout})
		if err != nil {
			return fmt.Errorf("FCM_CREDENTIALS_FILE %s: %s", m.FCMCredentialsFile, herald.ErrorMessage(err))
		}
		add(herald.PlatformFCM, s)
	}
	if m.APNSKeyFile != "" {
		key, err := readSettingFile("APNS_KEY_FILE", m.APNSKeyFile)
		if err != nil {
			return err
		}
		s, err := apns.New(apns.Config{Key: key, KeyID: m.APNSKeyID, TeamID: m.APNSTeamID, Topic: m.APNSTopic,
			Sandbox: m.APNSSandbox, Host: m.APNSHost, TTL: m.TTL, Timeout: m.SendTimeout})
		if err != nil {
			return fmt.Errorf("APNS_KEY_FILE %s: %s", m.APNSKeyFile, herald.ErrorMessage(err))
		}
		add(herald.PlatformAPNs, s)
	}
	return nil
}

// deviceStore is what the HTTP API serves of mobile devices (nil without
// delivery).
func (a *app) deviceStore() herald.DeviceStore {
	if a.delivery == nil {
		return nil
	}
	return a.delivery.store
}
