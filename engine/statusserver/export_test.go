package statusserver

import "net/http"

// SetServeHook makes every request that the server admits call f before its handler runs, so
// that tests can hold requests in flight.
func SetServeHook(s *Server, f func(*http.Request)) { s.serveHook = f }

// SetPageHook makes every /api/failures page call f while it holds its page slot.
func SetPageHook(s *Server, f func()) { s.pageHook = f }
