package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// loadFlags size the client side of a run.
type loadFlags struct {
	perWorker   int
	concurrency int
	dialTimeout time.Duration
	connectTime time.Duration
	transport   string // "websocket" or "sse"
}

func (f *loadFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.perWorker, "per-worker", 8000, "most client connections one worker process holds (a process may open 20,000 files here)")
	fs.IntVar(&f.concurrency, "dial-concurrency", 64, "handshakes in flight per worker")
	fs.DurationVar(&f.dialTimeout, "dial-timeout", 15*time.Second, "bound on one connection's TCP connect and handshake")
	fs.DurationVar(&f.connectTime, "connect-timeout", 5*time.Minute, "bound on opening all connections")
	fs.StringVar(&f.transport, "transport", "websocket", "what clients connect with: websocket (/ws) or sse (GET /sse, Server-Sent Events)")
}

// pool is the coordinator's side of the worker processes.
type pool struct {
	workers []*workerProc
	events  chan event
}

type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	enc   *json.Encoder
	done  chan struct{}
}

// startPool splits n connections of base into workers of at most perWorker
// and starts them.
func startPool(base job, n int, lf loadFlags) (*pool, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	k := max((n+lf.perWorker-1)/lf.perWorker, 1)
	p := &pool{events: make(chan event, 64)}
	first := base.First
	for i := range k {
		j := base
		j.Worker = i
		j.First = first
		j.Count = n / k
		if i < n%k {
			j.Count++
		}
		first += j.Count
		j.Concurrency = lf.concurrency
		j.DialTimeout = lf.dialTimeout
		if lf.transport == "sse" {
			j.Transport = "sse"
		}
		wp, err := p.spawn(self, j)
		if err != nil {
			p.stop()
			return nil, err
		}
		p.workers = append(p.workers, wp)
	}
	return p, nil
}

func (p *pool) spawn(self string, j job) (*workerProc, error) {
	cmd := exec.Command(self, "worker")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	wp := &workerProc{cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin), done: make(chan struct{})}
	if err := wp.enc.Encode(j); err != nil {
		return nil, err
	}
	go func() {
		defer close(wp.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				fmt.Fprintf(os.Stderr, "worker %d: unreadable event: %v\n", j.Worker, err)
				continue
			}
			p.events <- e
		}
		_ = cmd.Wait()
	}()
	return wp, nil
}

// cpu returns the CPU time the workers have used so far.
func (p *pool) cpu() time.Duration {
	var sum time.Duration
	for _, w := range p.workers {
		if c, err := readCPU(w.cmd.Process.Pid); err == nil {
			sum += c.Stat
		}
	}
	return sum
}

// broadcast sends c to every worker.
func (p *pool) broadcast(c command) error {
	for _, w := range p.workers {
		if err := w.enc.Encode(c); err != nil {
			return fmt.Errorf("worker command: %w", err)
		}
	}
	return nil
}

// collect waits for one event of kind from every worker. A fatal event or
// the timeout ends the wait with an error.
func (p *pool) collect(ctx context.Context, kind string, timeout time.Duration) ([]event, error) {
	return p.collectRound(ctx, kind, -1, timeout)
}

// collectRound is collect for the events of one fan-out round only, so that
// a late "done" of a round that timed out is not taken for the next one's.
// A negative round accepts any.
func (p *pool) collectRound(ctx context.Context, kind string, round int, timeout time.Duration) ([]event, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	got := make(map[int]event, len(p.workers))
	for len(got) < len(p.workers) {
		select {
		case e := <-p.events:
			switch e.Event {
			case kind:
				if round < 0 || e.Round == round {
					got[e.Worker] = e
				}
			case evFatal:
				return nil, fmt.Errorf("worker %d: %s", e.Worker, e.Error)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %q from %d of %d workers: %w", kind, len(p.workers)-len(got), len(p.workers), ctx.Err())
		}
	}
	out := make([]event, 0, len(got))
	for i := range p.workers {
		out = append(out, got[i])
	}
	return out, nil
}

// request broadcasts c and collects the answers of kind.
func (p *pool) request(ctx context.Context, c command, kind string, timeout time.Duration) ([]event, error) {
	if err := p.broadcast(c); err != nil {
		return nil, err
	}
	return p.collect(ctx, kind, timeout)
}

// awaitReady waits for every worker's connections and sums them up.
func (p *pool) awaitReady(ctx context.Context, timeout time.Duration) (readySummary, error) {
	evs, err := p.collect(ctx, evReady, timeout)
	if err != nil {
		return readySummary{}, err
	}
	s := readySummary{Errors: map[string]int{}}
	for _, e := range evs {
		s.Connected += e.Connected
		s.Failed += e.Failed
		s.Took = max(s.Took, e.Took)
		if len(s.NodeConnected) < len(e.NodeConnected) {
			s.NodeConnected = append(s.NodeConnected, make([]int, len(e.NodeConnected)-len(s.NodeConnected))...)
		}
		for i, n := range e.NodeConnected {
			s.NodeConnected[i] += n
		}
		for k, v := range e.Errors {
			s.Errors[k] += v
		}
	}
	return s, nil
}

// readySummary is the connect phase of a run.
type readySummary struct {
	Connected int            `json:"connected"`
	Failed    int            `json:"failed"`
	Errors    map[string]int `json:"errors,omitempty"`
	Took      time.Duration  `json:"took"`
	// NodeConnected counts the connections by node, on several nodes.
	NodeConnected []int `json:"nodeConnected,omitempty"`
}

func (r readySummary) String() string {
	s := fmt.Sprintf("%d connected in %s", r.Connected, r.Took.Round(time.Millisecond))
	if len(r.NodeConnected) > 0 {
		s += fmt.Sprintf(" (by node %v)", r.NodeConnected)
	}
	if r.Failed > 0 {
		s += fmt.Sprintf(", %d failed %v", r.Failed, r.Errors)
	}
	return s
}

// stop tells every worker to close its connections and waits for them to
// exit, killing those that take too long.
func (p *pool) stop() {
	quit := make(chan struct{})
	defer close(quit)
	go func() { // nobody reads events any more; keep the readers from blocking
		for {
			select {
			case <-p.events:
			case <-quit:
				return
			}
		}
	}()
	_ = p.broadcast(command{Cmd: cmdStop})
	for _, w := range p.workers {
		w.stdin.Close()
	}
	deadline := time.After(15 * time.Second)
	for _, w := range p.workers {
		select {
		case <-w.done:
		case <-deadline:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	}
}
