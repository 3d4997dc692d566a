package delivery

import (
	"context"
	"errors"
	"hash/fnv"
	"time"

	"github.com/heraldhq/herald"
)

// finishTimeout bounds recording an outcome, which runs even when the
// worker's context ends after the send: the send happened.
const finishTimeout = 5 * time.Second

// work claims up to limit due deliveries and sends them one by one. It
// returns how many it claimed.
func (s *Service) work(ctx context.Context, limit int) int {
	ds, err := s.store.ClaimDeliveries(ctx, s.now(), s.cfg.Lease, limit)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("delivery: claim failed", "err", err)
		}
		return 0
	}
	for _, d := range ds {
		s.deliver(ctx, d)
	}
	return len(ds)
}

// digests claims one user's due digest and sends it. It returns how many
// items it claimed.
func (s *Service) digests(ctx context.Context) int {
	items, err := s.store.ClaimDigest(ctx, s.now(), s.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("delivery: digest claim failed", "err", err)
		}
		return 0
	}
	if len(items) == 0 {
		return 0
	}
	s.deliver(ctx, items...)
	return len(items)
}

// outcome is what one attempt came to.
type outcome struct {
	result herald.DeliveryResult
	gone   bool // the push subscription expired: remove it
	device bool // the push target is a mobile device
}

// deliver sends one delivery, or the items of one digest (same user, same
// channel) as one message, and records the outcome of each.
func (s *Service) deliver(ctx context.Context, ds ...*herald.Delivery) {
	lead := ds[0]
	start := time.Now()
	o := s.attempt(ctx, ds)
	if o.gone {
		remove := s.store.DeletePushSubscription
		if o.device {
			remove = s.store.DeleteDevice
		}
		if err := remove(context.WithoutCancel(ctx), lead.UserID, lead.Target); err != nil && herald.CodeOf(err) != herald.ENOTFOUND {
			s.log.Warn("delivery: cannot remove an expired push target", "user", lead.UserID, "device", o.device, "err", err)
		}
	}
	s.metrics.took(lead.Channel, time.Since(start))
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	for _, d := range ds {
		r := o.result
		if r.Status == herald.DeliveryFailed && d.Attempts >= s.cfg.MaxAttempts {
			r.Status = herald.DeliveryDead
		}
		s.metrics.count(d.Channel, r.Status)
		err := s.store.FinishDelivery(fctx, d.ID, d.Attempts, r)
		switch {
		case err == nil:
			if r.Status == herald.DeliveryDead {
				s.log.Warn("delivery: dead", "id", d.ID, "user", d.UserID, "channel", d.Channel, "attempts", d.Attempts, "reason", r.Error)
			}
		case herald.CodeOf(err) == herald.ECONFLICT:
			s.log.Warn("delivery: outcome not recorded; another attempt took over", "id", d.ID, "attempt", d.Attempts)
		default:
			// The lease expires and the delivery is claimed again.
			s.log.Error("delivery: cannot record an outcome", "id", d.ID, "err", err)
		}
	}
}

// attempt sends ds and says how it went. It never returns a failure without
// a retry time.
func (s *Service) attempt(ctx context.Context, ds []*herald.Delivery) outcome {
	lead := ds[0]
	fail := func(status herald.DeliveryStatus, reason string) outcome {
		return outcome{result: herald.DeliveryResult{Status: status, Error: reason, At: s.now(), RetryAt: s.retryAt(lead, 0)}}
	}
	if lead.Attempts > s.cfg.MaxAttempts {
		// Workers kept dying mid-attempt: give up rather than loop.
		return fail(herald.DeliveryDead, "no outcome after the last attempt")
	}
	prefs, err := s.store.FindPreferences(ctx, lead.UserID)
	if err != nil {
		return fail(herald.DeliveryFailed, "cannot read the user's preferences")
	}
	m := &herald.Outbound{Delivery: lead, Digest: lead.Kind == herald.DeliveryDigest, TimeZone: prefs.TimeZone}
	for _, d := range ds {
		m.Notifications = append(m.Notifications, d.Notification)
	}
	switch lead.Channel {
	case herald.ChannelEmail:
		m.Email = prefs.Email
	case herald.ChannelSMS:
		m.Phone = prefs.Phone
	case herald.ChannelWebhook:
		m.WebhookURL, m.WebhookSecret = prefs.WebhookURL, prefs.WebhookSecret
	case herald.ChannelPush:
		if why := s.pushTarget(ctx, m); why != "" {
			return fail(herald.DeliveryFailed, why)
		}
	}
	if m.Email == "" && m.Phone == "" && m.WebhookURL == "" && m.Push == nil && m.Device == nil {
		return fail(herald.DeliveryCancelled, "the user has no "+string(lead.Channel)+" contact point any more")
	}
	sender := s.cfg.Senders[lead.Channel]
	if m.Device != nil {
		sender = s.cfg.DeviceSenders[m.Device.Platform]
	}
	if sender == nil {
		return fail(herald.DeliveryDead, "channel "+string(lead.Channel)+" is not configured")
	}

	sctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	err = sender.Send(sctx, m)
	cancel()
	now := s.now()
	if err == nil {
		return outcome{result: herald.DeliveryResult{Status: herald.DeliverySent, At: now}}
	}
	reason := herald.ErrorMessage(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = "the send timed out"
	case errors.Is(err, context.Canceled):
		reason = "the worker stopped during the send"
	case herald.CodeOf(err) == herald.EINTERNAL:
		reason = "the send failed"
	}
	switch herald.CodeOf(err) {
	case herald.EINVALID, herald.EUNPROCESSABLE, herald.EFORBIDDEN:
		return outcome{result: herald.DeliveryResult{Status: herald.DeliveryDead, Error: reason, At: now}}
	case herald.ENOTFOUND:
		return outcome{result: herald.DeliveryResult{Status: herald.DeliveryDead, Error: reason, At: now},
			gone: lead.Channel == herald.ChannelPush, device: m.Device != nil}
	}
	var after interface{ RetryAfter() time.Duration }
	wait := time.Duration(0)
	if errors.As(err, &after) {
		wait = after.RetryAfter()
	}
	s.log.Info("delivery: attempt failed; will retry", "id", lead.ID, "user", lead.UserID, "channel", lead.Channel, "attempt", lead.Attempts, "reason", reason)
	return outcome{result: herald.DeliveryResult{Status: herald.DeliveryFailed, Error: reason, At: now, RetryAt: s.retryAt(lead, wait)}}
}

// pushTarget fills m's push target, the browser subscription or mobile
// device the delivery names, and for a device the user's unread count (the
// badge). It returns why it could not read them, "" when it could; a target
// that is gone leaves m without one.
func (s *Service) pushTarget(ctx context.Context, m *herald.Outbound) string {
	d := m.Delivery
	subs, err := s.store.FindPushSubscriptions(ctx, d.UserID)
	if err != nil {
		return "cannot read the user's push subscriptions"
	}
	for _, sub := range subs {
		if sub.ID == d.Target {
			m.Push = sub
			return ""
		}
	}
	devices, err := s.store.FindDevices(ctx, d.UserID)
	if err != nil {
		return "cannot read the user's devices"
	}
	for _, dev := range devices {
		if dev.ID == d.Target {
			m.Device = dev
		}
	}
	if m.Device != nil {
		if u, err := s.store.UnreadCount(ctx, d.UserID); err == nil {
			m.Unread = &u.Count
		}
	}
	return ""
}

// retryAt returns when d is next tried after its attempt: RetryBase doubled
// per attempt, at most RetryMax, spread ±20% by a jitter drawn from the
// delivery id (so many deliveries failing together do not retry together),
// and no sooner than a provider's Retry-After.
func (s *Service) retryAt(d *herald.Delivery, atLeast time.Duration) time.Time {
	wait := s.cfg.RetryMax
	if shift := d.Attempts - 1; shift >= 0 && shift < 40 {
		wait = min(s.cfg.RetryBase<<shift, s.cfg.RetryMax)
	}
	h := fnv.New32a()
	h.Write([]byte(d.ID))
	h.Write([]byte{byte(d.Attempts)})
	jitter := 0.8 + 0.4*float64(h.Sum32()%1000)/1000
	wait = time.Duration(float64(wait) * jitter)
	wait = max(wait, min(atLeast, s.cfg.RetryMax))
	return s.now().Add(wait)
}
