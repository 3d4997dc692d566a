package sqlite

// Commits returns how many transactions the writer loop has begun.
func Commits(s *Store) int64 { return s.commits.Load() }

// Queued returns how many create requests wait for the writer loop.
func Queued(s *Store) int { return len(s.queue) }
