package inbox

import (
	"context"
	"hash/maphash"
	"slices"
)

// numStripes is how many locks the users share. Users that hash to the same
// stripe wait for each other; 256 keeps that rare without a lock per user.
const numStripes = 256

// stripes serialises, per user, the section "commit, read the unread count,
// publish". Without it two concurrent changes for one user could publish their
// counts in the opposite order of their commits, leaving a tab on a stale
// count. Each stripe is a one-slot channel rather than a sync.Mutex so that a
// caller whose context ends stops waiting.
type stripes struct {
	seed  maphash.Seed
	locks [numStripes]chan struct{}
}

func newStripes() *stripes {
	s := &stripes{seed: maphash.MakeSeed()}
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s
}

// index returns the stripe of userID.
func (s *stripes) index(userID string) int {
	return int(maphash.String(s.seed, userID) % numStripes)
}

// lock takes the stripes of all userIDs, in ascending stripe order so that two
// batches never wait on each other in a cycle, and returns the function that
// releases them. It fails with ctx's error, holding nothing, if ctx ends first.
func (s *stripes) lock(ctx context.Context, userIDs ...string) (unlock func(), err error) {
	idx := make([]int, 0, len(userIDs))
	for _, u := range userIDs {
		idx = append(idx, s.index(u))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	held := 0
	release := func() {
		for _, i := range idx[:held] {
			<-s.locks[i]
		}
	}
	for _, i := range idx {
		select {
		case s.locks[i] <- struct{}{}:
			held++
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}
