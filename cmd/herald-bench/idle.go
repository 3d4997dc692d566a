package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// idleServer is a server whose idle connections are measured: Herald, or one
// of the wslib mini servers.
type idleServer interface {
	name() string
	processID() int
	// connections is the server's own count of live connections.
	connections(ctx context.Context) (int, error)
	// runtime reads the server's Go memory figures.
	runtime(ctx context.Context) (runtimeStats, error)
}

// idleSample is the server's memory at one moment of an idle run.
type idleSample struct {
	At      time.Duration `json:"at"` // since the connections were all up
	Memory  memory        `json:"memory"`
	Runtime runtimeStats  `json:"runtime"`
	Conns   int           `json:"serverConnections"`
}

// idleResult is one idle run.
type idleResult struct {
	Server   string        `json:"server"`
	Ready    readySummary  `json:"ready"`
	Before   idleSample    `json:"before"`
	Samples  []idleSample  `json:"samples"` // after settling, then after a heartbeat period
	Dropped  int           `json:"dropped"` // connections the server closed meanwhile
	Duration time.Duration `json:"duration"`
}

// perConn returns the growth of v from before to s, per connection.
func (r *idleResult) perConn(before, after int64) float64 {
	if r.Ready.Connected == 0 {
		return 0
	}
	return float64(after-before) / float64(r.Ready.Connected)
}

// idleFlags are the idle and wslib commands' shared knobs.
type idleFlags struct {
	conns int
	at    durationList
}

func (f *idleFlags) register(fs *flag.FlagSet, at string) {
	fs.IntVar(&f.conns, "conns", 15000, "idle connections to open (unique users)")
	_ = f.at.Set(at)
	fs.Var(&f.at, "at", "comma-separated times after the server counts every connection at which to measure its memory: "+
		"the first lets the garbage of the handshakes go (settle); a later one past 30 s follows the first heartbeat ping round, "+
		"one past 2 min the runtime's forced GC")
}

// durationList is a comma-separated list of durations, in increasing order.
type durationList []time.Duration

func (l *durationList) String() string {
	var parts []string
	for _, d := range *l {
		parts = append(parts, d.String())
	}
	return strings.Join(parts, ",")
}

func (l *durationList) Set(v string) error {
	*l = nil
	for _, p := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration", p)
		}
		*l = append(*l, d)
	}
	if len(*l) == 0 || !slices.IsSorted(*l) {
		return errors.New("want increasing durations such as 10s,35s")
	}
	return nil
}

// measureIdle opens f.conns connections of base to srv and samples the
// server's memory before, after settling and after a heartbeat period.
func measureIdle(ctx context.Context, srv idleServer, base job, f idleFlags, lf loadFlags) (*idleResult, error) {
	res := &idleResult{Server: srv.name()}
	start := time.Now()
	baseConns, err := srv.connections(ctx)
	if err != nil {
		return nil, err
	}
	if res.Before, err = sample(ctx, srv, 0); err != nil {
		return nil, err
	}
	base.Lifetime = lf.connectTime + f.at[len(f.at)-1] + 5*time.Minute
	p, err := startPool(base, f.conns, lf)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	if res.Ready, err = p.awaitReady(ctx, lf.connectTime); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%s: %s\n", srv.name(), res.Ready)
	if res.Ready.Connected == 0 {
		return nil, fmt.Errorf("no connection could be opened: %v", res.Ready.Errors)
	}

	// The server counts a connection a moment after the client's handshake.
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := srv.connections(ctx)
		if err == nil && n >= baseConns+res.Ready.Connected {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the server counts %d connections, want %d", n, baseConns+res.Ready.Connected)
		}
		time.Sleep(200 * time.Millisecond)
	}
	up := time.Now()
	for _, w := range f.at {
		if err := sleepUntil(ctx, up.Add(w)); err != nil {
			return nil, err
		}
		s, err := sample(ctx, srv, time.Since(up))
		if err != nil {
			return nil, err
		}
		s.Conns -= baseConns
		res.Samples = append(res.Samples, s)
		fmt.Fprintf(os.Stderr, "%s: +%s RSS %s (%s per connection)\n", srv.name(), s.At.Round(time.Second),
			kib(s.Memory.RSS), kibf(res.perConn(res.Before.Memory.RSS, s.Memory.RSS)))
	}
	if evs, err := p.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second); err == nil {
		for _, e := range evs {
			res.Dropped += e.Dropped
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

func sample(ctx context.Context, srv idleServer, at time.Duration) (idleSample, error) {
	s := idleSample{At: at}
	var err error
	if s.Memory, err = readMemory(srv.processID()); err != nil {
		return s, err
	}
	if s.Runtime, err = srv.runtime(ctx); err != nil {
		return s, err
	}
	s.Conns, err = srv.connections(ctx)
	return s, err
}

func sleepUntil(ctx context.Context, t time.Time) error {
	select {
	case <-time.After(time.Until(t)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// heraldServer adapts a target to idleServer.
type heraldServer struct{ t *target }

func (h heraldServer) name() string   { return "herald" }
func (h heraldServer) processID() int { return h.t.pid }
func (h heraldServer) connections(ctx context.Context) (int, error) {
	s, err := h.t.stats(ctx)
	return s.TotalConnections, err
}
func (h heraldServer) runtime(ctx context.Context) (runtimeStats, error) { return h.t.metrics(ctx) }

func runIdle(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench idle", flag.ContinueOnError)
	var sf serverFlags
	var lf loadFlags
	var f idleFlags
	sf.register(fs)
	lf.register(fs)
	f.register(fs, "10s,35s")
	jsonOut := fs.Bool("json", false, "print the result as JSON on stdout")
	keep := fs.Bool("keep", false, "keep the started server's directory (log, database)")
	fs.Usage = commandUsage(fs, `idle: server RSS per idle authenticated connection.

Starts a Herald server (or attaches to one), opens --conns authenticated
connections with unique users, waits until /api/stats counts them all, and
reports at each --at time the server's RSS (VmRSS of /proc/PID/status) against
its RSS before the connections, per connection, with the Go runtime's stack and
heap figures from /metrics. The server runs with its default heartbeat (a ping
every 30 s).`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := startOrAttach(ctx, &sf, f.conns+1000)
	if err != nil {
		return err
	}
	defer t.stop(*keep)
	time.Sleep(time.Second) // let start-up garbage go before the baseline

	base := job{Mode: modeIdle, URL: t.wsURL(), JWTSecret: t.jwtSecret, UserPrefix: userPrefix()}
	res, err := measureIdle(ctx, heraldServer{t}, base, f, lf)
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSON(res)
	}
	printIdle(os.Stdout, []*idleResult{res})
	return nil
}

// userPrefix makes this run's user ids unique, for attached servers whose
// store and hub already hold users.
func userPrefix() string { return "bench-" + randomHex(3) + "-" }
