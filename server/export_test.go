package server

import "time"

// SetSyncEvery sets the interval of the Redis exchange; call it before
// Start.
func SetSyncEvery(s *Server, d time.Duration) { s.syncEvery = d }

// Syncs returns the number of completed Redis exchanges.
func Syncs(s *Server) uint64 { return s.syncs.Load() }
