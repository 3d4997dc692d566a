package http

import (
	"net/http"

	"github.com/heraldhq/herald"
)

// handleMetrics serves Config.Metrics. Unless Config.MetricsPublic, the
// scraper must present Config.MetricsToken or the API key as a bearer
// token, within the address's allowance of failures: the figures are the
// same totals /api/stats gives backends only, and more (memory, goroutines,
// descriptors) that help whoever plans an attack.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.MetricsPublic {
		err := s.guard(w, r, "metrics authentication", func() error { return s.checkMetricsKey(r) })
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}

// checkMetricsKey accepts the metrics token or the API key, compared in
// constant time; with neither configured every request is refused.
func (s *Server) checkMetricsKey(r *http.Request) error {
	key := bearer(r)
	if key == "" {
		return herald.Errorf(herald.ECREDENTIALS, "Missing metrics token")
	}
	token := s.cfg.MetricsToken != "" && sameKey(key, s.metricsToken)
	api := s.cfg.APIKey != "" && sameKey(key, s.apiKey)
	if !token && !api {
		return herald.Errorf(herald.ETOKEN, "Invalid metrics token")
	}
	return nil
}
