package ws

// WriterPauses reports how often s's writers have paused for the network.
func WriterPauses(s *Server) int64 { return s.writers.pauses.Load() }

// TCPPair is tcpPair for the package's external tests.
var TCPPair = tcpPair
