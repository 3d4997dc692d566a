package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// getClient serves the occasional GET (health, stats, metrics).
var getClient = &http.Client{Timeout: 10 * time.Second}

// get fetches path from t with the API key and returns the body.
func (t *target) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.apiKey)
	resp, err := getClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

// waitHealthy polls /healthz until it answers 200 or timeout passes.
func waitHealthy(ctx context.Context, t *target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		path := "/healthz"
		if t.healthPath != "" {
			path = t.healthPath
		}
		_, err := t.get(ctx, path)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s/healthz: %w (last error: %v)", t.addr, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stats is GET /api/stats.
type stats struct {
	TotalConnections int            `json:"totalConnections"`
	TotalUsers       int            `json:"totalUsers"`
	ChannelCounts    map[string]int `json:"channelCounts"`
}

func (t *target) stats(ctx context.Context) (stats, error) {
	var s stats
	b, err := t.get(ctx, "/api/stats")
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// waitStats polls /api/stats until ok accepts it or timeout passes.
func (t *target) waitStats(ctx context.Context, timeout time.Duration, ok func(stats) bool) (stats, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		s, err := t.stats(ctx)
		if err == nil && ok(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return s, err
			}
			return s, fmt.Errorf("/api/stats never reached the expected figures: %+v", s)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runtimeStats are the Go runtime figures of the server's /metrics (the
// Prometheus Go collector), which split RSS into stacks and heap.
type runtimeStats struct {
	Goroutines int64 `json:"goroutines"`
	HeapInuse  int64 `json:"heapInuseBytes"`
	StackInuse int64 `json:"stackInuseBytes"`
	Sys        int64 `json:"sysBytes"`
}

// metrics reads runtimeStats from /metrics. A server without the Go
// collector gives zeros, not an error.
func (t *target) metrics(ctx context.Context) (runtimeStats, error) {
	b, err := t.get(ctx, "/metrics")
	if err != nil {
		return runtimeStats{}, err
	}
	return parseRuntimeMetrics(string(b)), nil
}

func parseRuntimeMetrics(text string) runtimeStats {
	var goroutines, heap, stack, sys float64
	readSamples(text, map[string]*float64{
		"go_goroutines":                 &goroutines,
		"go_memstats_heap_inuse_bytes":  &heap,
		"go_memstats_stack_inuse_bytes": &stack,
		"go_memstats_sys_bytes":         &sys,
	})
	return runtimeStats{Goroutines: int64(goroutines), HeapInuse: int64(heap), StackInuse: int64(stack), Sys: int64(sys)}
}

// readSamples sets each value of want to the sample of its name (one
// without labels) in text, Prometheus's text format; a name text lacks
// leaves its value as it was.
func readSamples(text string, want map[string]*float64) {
	for _, line := range strings.Split(text, "\n") {
		name, val, ok := strings.Cut(line, " ")
		if p := want[name]; ok && p != nil {
			if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				*p = f
			}
		}
	}
}

// commitStats are the running totals of a Herald store's commit loop, from
// its Prometheus histograms (herald_store_commit_…): zeros for a server
// without them.
type commitStats struct {
	Commits       float64 // herald_store_commit_notifications_count
	Notifications float64 // herald_store_commit_notifications_sum
	Busy          float64 // herald_store_commit_seconds_sum
}

// commits reads commitStats from /metrics.
func (t *target) commits(ctx context.Context) (commitStats, error) {
	b, err := t.get(ctx, "/metrics")
	if err != nil {
		return commitStats{}, err
	}
	return parseCommitMetrics(string(b)), nil
}

func parseCommitMetrics(text string) commitStats {
	var c commitStats
	readSamples(text, map[string]*float64{
		"herald_store_commit_notifications_count": &c.Commits,
		"herald_store_commit_notifications_sum":   &c.Notifications,
		"herald_store_commit_seconds_sum":         &c.Busy,
	})
	return c
}

// apiConn is one keep-alive HTTP/1.1 connection for the hot POST loops.
// net/http's client costs tens of microseconds of goroutine hand-offs per
// request, which on a 2-core machine would be taken from the server under
// test; this writes a request and parses the answer on the caller's goroutine.
type apiConn struct {
	addr, auth string
	header     string // the header auth goes in
	nc         net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
}

func newAPIConn(t *target) *apiConn {
	if t.apiHeader != "" {
		return &apiConn{addr: t.addr, header: t.apiHeader, auth: t.apiKey}
	}
	return &apiConn{addr: t.addr, header: "Authorization", auth: "Bearer " + t.apiKey}
}

// post sends body to path and returns the status and the answer's body.
// A failed connection is redialled on the next call; a failed request is not
// retried (a POST may have taken effect).
func (c *apiConn) post(path string, body []byte) (int, []byte, error) {
	return c.do("POST", path, body)
}

// do sends a request with method (body may be nil) and returns the status
// and the answer's body, as post does.
func (c *apiConn) do(method, path string, body []byte) (int, []byte, error) {
	if c.nc == nil {
		if err := c.dial(); err != nil {
			return 0, nil, err
		}
	}
	status, resp, err := c.roundTrip(method, path, body)
	if err != nil {
		c.close()
	}
	return status, resp, err
}

// dial opens the connection.
func (c *apiConn) dial() error {
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return err
	}
	c.nc, c.br, c.bw = nc, bufio.NewReaderSize(nc, 4096), bufio.NewWriterSize(nc, 4096)
	return nil
}

func (c *apiConn) roundTrip(method, path string, body []byte) (int, []byte, error) {
	_ = c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c.bw, "%s %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		method, path, c.addr, c.header, c.auth, len(body))
	c.bw.Write(body)
	if err := c.bw.Flush(); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, nil, err
	}
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	if resp.Close {
		c.close()
	}
	return resp.StatusCode, out, nil
}

func (c *apiConn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}
