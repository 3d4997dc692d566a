package sqlstore

import (
	"testing"
	"time"
)

func TestGather(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name        string
		reqs        int
		recent      float64
		last, delay time.Duration
		want        time.Duration
	}{
		{"a caller alone, recent commits alone too", 1, 1, 300 * time.Microsecond, ms, 0},
		{"half of recent already", 5, 10, 300 * time.Microsecond, ms, 0},
		{"fewer than half: wait as long as the last commit took", 2, 10, 300 * time.Microsecond, ms, 300 * time.Microsecond},
		{"never longer than the delay", 1, 20, 5 * ms, ms, ms},
		{"no delay configured", 1, 20, 5 * ms, -1, 0},
		{"no commit yet", 1, 20, 0, ms, 0},
	}
	for _, tt := range tests {
		if got := gather(tt.reqs, tt.recent, tt.last, tt.delay); got != tt.want {
			t.Errorf("%s: gather(%d, %v, %v, %v) = %v, want %v", tt.name, tt.reqs, tt.recent, tt.last, tt.delay, got, tt.want)
		}
	}
}
