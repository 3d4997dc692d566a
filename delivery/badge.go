package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// badges keeps mobile badges true: a read or delete marks its user, and each
// flush sends the users marked, at most once per user per BadgeInterval,
// with the count as it is at the flush. A burst of reads thus costs one
// update at once and one more when the interval ends, carrying the final
// count.
type badges struct {
	mu      sync.Mutex
	pending map[string]bool      // users whose count moved since their last update
	last    map[string]time.Time // when each user's last update went
}

// mark notes that userID's unread count moved.
func (s *Service) markBadge(userID string) {
	if len(s.cfg.Badges) == 0 {
		return
	}
	s.badges.mu.Lock()
	s.badges.pending[userID] = true
	s.badges.mu.Unlock()
}

// FlushBadges sends the badge updates that are due at the injected clock's
// now and returns how many users it updated. Run calls it a few times per
// BadgeInterval; tests call it after moving the clock.
func (s *Service) FlushBadges(ctx context.Context) int {
	now := s.now()
	var due []string
	b := &s.badges
	b.mu.Lock()
	for user := range b.pending {
		if last, ok := b.last[user]; ok && now.Sub(last) < s.cfg.BadgeInterval && !now.Before(last) {
			continue
		}
		due = append(due, user)
		delete(b.pending, user)
		b.last[user] = now
	}
	for user, last := range b.last {
		if now.Sub(last) >= s.cfg.BadgeInterval && !b.pending[user] {
			delete(b.last, user) // forget quiet users
		}
	}
	b.mu.Unlock()
	for _, user := range due {
		s.sendBadges(ctx, user)
	}
	return len(due)
}

// sendBadges sets the badge of each of userID's devices to their unread
// count. Failures are logged and dropped: the next alert or read carries
// the count again. A device the provider calls gone is removed.
func (s *Service) sendBadges(ctx context.Context, userID string) {
	devices, err := s.store.FindDevices(ctx, userID)
	if err != nil || len(devices) == 0 {
		return
	}
	u, err := s.store.UnreadCount(ctx, userID)
	if err != nil {
		s.log.Warn("delivery: cannot read the unread count for a badge", "user", userID, "err", err)
		return
	}
	for _, d := range devices {
		snd := s.cfg.Badges[d.Platform]
		if snd == nil {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
		err := snd.SendBadge(sctx, d, u.Count)
		cancel()
		switch {
		case err == nil:
			s.metrics.badge(d.Platform, "sent")
		case herald.CodeOf(err) == herald.ENOTFOUND:
			s.metrics.badge(d.Platform, "gone")
			if err := s.store.DeleteDevice(context.WithoutCancel(ctx), userID, d.ID); err != nil && herald.CodeOf(err) != herald.ENOTFOUND {
				s.log.Warn("delivery: cannot remove a gone device", "user", userID, "err", err)
			}
		default:
			s.metrics.badge(d.Platform, "failed")
			s.log.Info("delivery: badge update failed", "user", userID, "device", d.ID, "reason", herald.ErrorMessage(err))
		}
	}
}

// badgeLoop flushes badge updates until ctx ends.
func (s *Service) badgeLoop(ctx context.Context) {
	t := time.NewTicker(max(s.cfg.BadgeInterval/4, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.FlushBadges(ctx)
		}
	}
}
