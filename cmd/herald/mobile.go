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
	{"HERALD_BADGE_INTERVAL", "badge-interval", "3s", "at most one silent badge update per user per this interval after reads"},
}

func init() { addGroup(mobileSettings, parseMobile) }

// MobileConfig is mobile push: each platform's provider (empty key file:
// the platform is off), the message lifetime and the badge updates.
type MobileConfig struct {
	FCMCredentialsFile, FCMBaseURL     string
	APNSKeyFile, APNSKeyID, APNSTeamID string
	APNSTopic, APNSHost                string
	APNSSandbox                        bool
	TTL, SendTimeout, BadgeInterval    time.Duration
}

// parseMobile reads the mobile settings into c.Mobile. The key files are
// read at start (addMobile), like the other setting files.
func parseMobile(p *parser, c *Config) {
	m := &c.Mobile
	m.FCMCredentialsFile, m.FCMBaseURL = p.str("FCM_CREDENTIALS_FILE"), p.str("FCM_BASE_URL")
	m.APNSKeyFile, m.APNSKeyID, m.APNSTeamID = p.str("APNS_KEY_FILE"), p.str("APNS_KEY_ID"), p.str("APNS_TEAM_ID")
	m.APNSTopic, m.APNSHost = p.str("APNS_TOPIC"), p.str("APNS_HOST")
	m.APNSSandbox = p.oneOf("APNS_ENV", "production", "sandbox") == "sandbox"
	m.TTL = p.dur("MOBILE_PUSH_TTL", time.Second)
	m.SendTimeout = p.dur("MOBILE_SEND_TIMEOUT", time.Millisecond)
	m.BadgeInterval = p.dur("HERALD_BADGE_INTERVAL", time.Millisecond)
	if m.APNSKeyFile != "" && (m.APNSKeyID == "" || m.APNSTeamID == "" || m.APNSTopic == "") {
		p.errorf("APNS_KEY_FILE needs APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC")
	}
}

// addMobile adds the FCM and APNs senders m configures to c, reading their
// key files.
func addMobile(m MobileConfig, c *delivery.Config) error {
	c.BadgeInterval = m.BadgeInterval
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
