package ws

import "time"

// WriterPauses reports how often s's writers have paused for the network.
func WriterPauses(s *Server) int64 { return s.writers.pauses.Load() }

// TCPPair is tcpPair for the package's external tests.
var TCPPair = tcpPair

// SetFrameTimeout sets the bound on the wait for the rest of a frame until
// the test ends.
func SetFrameTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := frameTimeout
	frameTimeout = d
	t.Cleanup(func() { frameTimeout = old })
}

// InlineWrites reports how many writes s made on a sender's goroutine.
func InlineWrites(s *Server) int64 { return s.inlineWrites.Load() }

// PoolWriteWait is poolWriteWait, the deadline a pool write sets.
const PoolWriteWait = poolWriteWait
