package delivery

import (
	"time"

	"github.com/heraldhq/herald"
)

// quietChannels are held by quiet hours: the ones that buzz a phone. In-app
// notifications and webhooks (machine to machine) are not.
var quietChannels = map[herald.Channel]bool{herald.ChannelEmail: true, herald.ChannelSMS: true, herald.ChannelPush: true}

// Planner decides, for one notification, which deliveries to write with it:
// a pure function of the notification, the user's preferences and push
// subscriptions, the type policies and the time, so that every combination
// can be tested without a clock or a store. It is the herald.Planner the
// stores call inside the transaction that stores the notification.
type Planner struct {
	// Policies maps a notification type, or herald.AnyType, to its policy.
	Policies map[string]herald.TypePolicy
	// Available holds the channels that have a sender; others are never
	// planned.
	Available map[herald.Channel]bool
	// DigestPeriod is the digest's period (default DefaultDigestPeriod).
	DigestPeriod time.Duration
	// Platforms holds the mobile platforms that have a sender; devices of
	// others are never planned. Available[push] is for web push alone.
	Platforms map[herald.Platform]bool
}

var _ herald.Planner = (*Planner)(nil)

// UsesPush reports whether plans read push targets: only when web push or a
// mobile platform has a sender.
func (p *Planner) UsesPush() bool { return p.Available[herald.ChannelPush] || len(p.Platforms) > 0 }

// targets returns the ids of the push targets that have a sender: browsers'
// subscriptions, then devices.
func (p *Planner) targets(t herald.PushTargets) []string {
	var ids []string
	if p.Available[herald.ChannelPush] {
		for _, s := range t.Subscriptions {
			ids = append(ids, s.ID)
		}
	}
	for _, d := range t.Devices {
		if p.Platforms[d.Platform] {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// policy returns the policy of typ.
func (p *Planner) policy(typ string) herald.TypePolicy {
	if pol, ok := p.Policies[typ]; ok {
		return pol
	}
	return p.Policies[herald.AnyType]
}

// Plan plans n for a user with preferences prefs (nil: none saved) and push
// targets, at now.
//
// A channel is on when the user switched it on for the type (or for every
// type), else when the type's policy does; in_app is on unless switched off.
// An on channel with a sender and a contact point gets an immediate delivery
// (one per push subscription or mobile device: the `push` switch covers
// both). Email of a digest type waits for the next
// digest instead. Escalation steps add deliveries over channels that did not
// go out at once and that the user did not switch off, due After the
// creation, cancelled if the notification is read first. Quiet hours move
// email, SMS and push to their end, cancelled if read meanwhile. A critical
// notification skips both quiet hours and the digest.
//
// A user who switched in_app off for the type gets the notification Silent:
// stored read, never pushed, and without escalations, which wait on a read.
func (p *Planner) Plan(n *herald.NewNotification, prefs *herald.Preferences, targets herald.PushTargets, now time.Time) herald.Plan {
	pol := p.policy(n.Type)
	push := p.targets(targets)
	now = now.UTC()
	if prefs == nil {
		prefs = &herald.Preferences{UserID: n.UserID}
	}
	loc, err := prefs.Location()
	if err != nil {
		loc = time.UTC
	}
	enabled := func(c herald.Channel) bool {
		if on, set := prefs.Setting(n.Type, c); set {
			return on
		}
		on, set := pol.Channels[c]
		if c == herald.ChannelInApp && !set {
			return true
		}
		return on
	}
	reachable := func(c herald.Channel) bool {
		if c == herald.ChannelPush {
			return len(push) > 0
		}
		if !p.Available[c] {
			return false
		}
		switch c {
		case herald.ChannelEmail:
			return prefs.Email != ""
		case herald.ChannelSMS:
			return prefs.Phone != ""
		case herald.ChannelWebhook:
			return prefs.WebhookURL != ""
		}
		return false
	}
	// hold moves due out of the user's quiet hours for channel c.
	hold := func(c herald.Channel, due time.Time) (time.Time, bool) {
		if n.Critical || !quietChannels[c] || prefs.QuietHours == nil {
			return due, false
		}
		if end, quiet := quietEnd(prefs.QuietHours, due.In(loc)); quiet {
			return end.UTC(), true
		}
		return due, false
	}
	add := func(out []*herald.Delivery, c herald.Channel, kind herald.DeliveryKind, due time.Time, unlessRead bool) []*herald.Delivery {
		if c != herald.ChannelPush {
			return append(out, &herald.Delivery{Channel: c, Kind: kind, DueAt: due, UnlessRead: unlessRead, Critical: n.Critical})
		}
		for _, id := range push {
			out = append(out, &herald.Delivery{Channel: c, Kind: kind, DueAt: due, UnlessRead: unlessRead, Target: id, Critical: n.Critical})
		}
		return out
	}

	plan := herald.Plan{Silent: !enabled(herald.ChannelInApp)}
	immediate := map[herald.Channel]bool{}
	for _, c := range herald.Channels {
		if c == herald.ChannelInApp || !enabled(c) || !reachable(c) {
			continue
		}
		immediate[c] = true
		kind, due, unlessRead := herald.DeliveryImmediate, now, false
		if c == herald.ChannelEmail && pol.Digest && !n.Critical {
			kind, due, unlessRead = herald.DeliveryDigest, nextDigest(now, loc, p.digestPeriod()), true
		}
		due, held := hold(c, due)
		plan.Deliveries = add(plan.Deliveries, c, kind, due, unlessRead || held)
	}
	if plan.Silent {
		return plan // nothing can stay unread in the app
	}
	for _, step := range pol.Escalation {
		c := step.Channel
		if c == herald.ChannelInApp || immediate[c] || !reachable(c) {
			continue
		}
		if on, set := prefs.Setting(n.Type, c); set && !on {
			continue
		}
		due, _ := hold(c, now.Add(step.After))
		plan.Deliveries = add(plan.Deliveries, c, herald.DeliveryEscalation, due, true)
	}
	return plan
}

func (p *Planner) digestPeriod() time.Duration {
	if p.DigestPeriod <= 0 {
		return DefaultDigestPeriod
	}
	return p.DigestPeriod
}

// quietEnd reports whether local time t falls in the quiet hours q and, if
// so, when they end. A window whose start equals its end is empty.
func quietEnd(q *herald.QuietHours, t time.Time) (time.Time, bool) {
	start, err1 := herald.ParseClock(q.Start)
	end, err2 := herald.ParseClock(q.End)
	if err1 != nil || err2 != nil || start == end {
		return t, false
	}
	m := t.Hour()*60 + t.Minute()
	at := func(dayOffset int) time.Time {
		y, mo, d := t.Date()
		return time.Date(y, mo, d+dayOffset, end/60, end%60, 0, 0, t.Location())
	}
	switch {
	case start < end && m >= start && m < end:
		return at(0), true
	case start > end && m >= start:
		return at(1), true
	case start > end && m < end:
		return at(0), true
	}
	return t, false
}

// nextDigest returns the first digest time after now: periods are counted
// from the user's local midnight when they divide a day (hourly, daily
// digests), from the Unix epoch otherwise.
func nextDigest(now time.Time, loc *time.Location, period time.Duration) time.Time {
	if (24*time.Hour)%period != 0 {
		return now.Truncate(period).Add(period).UTC()
	}
	local := now.In(loc)
	y, m, d := local.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
	k := now.Sub(midnight)/period + 1
	return midnight.Add(k * period).UTC()
}
