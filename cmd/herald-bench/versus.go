package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// versusServer names the two servers of the comparison.
const (
	serverHerald     = "herald"
	serverCentrifugo = "centrifugo"
)

// The workloads of a versus sample.
const (
	workloadFanout      = "fanout"      // connect, subscribe, messages to the channel
	workloadUnicast     = "unicast"     // connect, one message at a time to each user in turn
	workloadUnicastConc = "unicast-par" // connect, --unicast-inflight senders to the users
	workloadChurn       = "churn"       // connect/refuse/drop/close loops around idle subscribers (churn.go)
)

// versusSample is one server's figures for one subscriber count in one
// round: a fresh server, the clients connecting and subscribing, then one
// fan-out of back-to-back messages.
type versusSample struct {
	Server string `json:"server"`
	// Workload is "fanout" (connect, subscribe, messages to the channel),
	// "unicast" (connect, one message at a time to each user in turn),
	// "unicast-par" (the same with Inflight senders at once) or "churn"
	// (Subscribers idle connections, Inflight loops of attempts around
	// them: see Churn).
	Workload    string  `json:"workload"`
	Subscribers int     `json:"subscribers"`
	Inflight    int     `json:"inflight,omitempty"` // unicast-par: senders; churn: attempt loops
	Round       int     `json:"round"`
	LoadAvg     float64 `json:"loadAvg"` // one-minute load average as the sample started

	Connected      int           `json:"connected"`
	Failed         int           `json:"failed"`
	ConnectTook    time.Duration `json:"connectTook"` // first dial to the last subscribe reply, slowest worker
	ConnectsPerSec float64       `json:"connectsPerSecond"`

	Expected         int64         `json:"expected"`
	Deliveries       int64         `json:"deliveries"`
	Loss             int64         `json:"loss"`
	Duplicates       int64         `json:"duplicates"`
	TimedOut         bool          `json:"timedOut"`
	Sends            int64         `json:"sends"`  // publish requests
	Send             time.Duration `json:"send"`   // first publish to the last answer
	Window           time.Duration `json:"window"` // first publish to the last receipt
	DeliveriesPerSec float64       `json:"deliveriesPerSecond"`
	SendsPerSec      float64       `json:"sendsPerSecond"` // sends ÷ window
	ServerCPU        time.Duration `json:"serverCpu"`      // schedstat over the window
	ServerIO         ioCalls       `json:"serverIoCalls"`  // read-like and write-like system calls over the window
	ClientCPU        time.Duration `json:"clientCpu"`
	P50              time.Duration `json:"p50"`
	P99              time.Duration `json:"p99"`

	Churn *churnSample `json:"churn,omitempty"`
}

type versusResult struct {
	HeraldBin     string         `json:"heraldBin"`
	CentrifugoBin string         `json:"centrifugoBin"`
	Sizes         []int          `json:"subscribers"`
	UnicastUsers  int            `json:"unicastUsers"`
	UnicastEach   int            `json:"unicastMessagesPerUser"`
	UniInflight   int            `json:"unicastInflight"`
	ChurnInflight int            `json:"churnInflight"`
	ChurnBase     int            `json:"churnBase"`
	ChurnDuration time.Duration  `json:"churnDuration"`
	Messages      int            `json:"messages"`
	PayloadSize   int            `json:"payloadBytes"`
	ServerCPUs    string         `json:"serverCpus"`
	Samples       []versusSample `json:"samples"`
}

type versusOptions struct {
	lf            loadFlags
	heraldBin     string
	cfBin         string
	sizes         []int
	uniUsers      int
	uniEach       int
	uniInflight   int
	churnInflight int
	churnBase     int
	churnDuration time.Duration
	churnSettle   time.Duration
	msgs          int
	rounds        int
	payload       int
	pause         time.Duration
	roundTimeout  time.Duration
	serverCPUs    string
	logLevel      string
	json          bool
}

func runVersus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench versus", flag.ContinueOnError)
	o := &versusOptions{}
	o.lf.register(fs)
	fs.StringVar(&o.heraldBin, "server-bin", "herald", "Herald binary to start")
	fs.StringVar(&o.cfBin, "centrifugo-bin", "centrifugo", "Centrifugo v6 binary to start")
	sizes := fs.String("subscribers", "1000,5000", "subscriber counts, comma-separated: each is a connect and a fan-out workload (empty: none)")
	fs.IntVar(&o.uniUsers, "unicast-users", 1000, "connected users of the unicast workload (0: skip it)")
	fs.IntVar(&o.uniEach, "unicast-messages", 5, "messages per user in the unicast workload, sent one user after the other")
	fs.IntVar(&o.uniInflight, "unicast-inflight", 16, "senders at once in the concurrent unicast workload, each on its own keep-alive connection (1: only the sequential workload)")
	fs.IntVar(&o.churnInflight, "churn-inflight", 64, "attempt loops of the churn workload, spread over the worker processes as connections are (0: skip it)")
	fs.IntVar(&o.churnBase, "churn-base", 1000, "idle subscribed connections the churn workload runs around")
	fs.DurationVar(&o.churnDuration, "churn-duration", 5*time.Second, "how long the churn loops start attempts")
	fs.DurationVar(&o.churnSettle, "churn-settle", 5*time.Second, "bound on the server's counts coming back to the base after the churn; beyond it the excess is reported as a leak")
	fs.IntVar(&o.msgs, "messages", 100, "messages per fan-out, published back to back (each after the previous answer)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every workload on both servers, the first server alternating")
	fs.IntVar(&o.payload, "payload", 128, "approximate size of each message body in bytes")
	fs.DurationVar(&o.pause, "pause", 2*time.Second, "quiet time after connecting, before the fan-out, the unicast sends or the churn")
	fs.DurationVar(&o.roundTimeout, "round-timeout", time.Minute, "bound on one fan-out; missing deliveries after it count as lost")
	fs.StringVar(&o.serverCPUs, "server-cpus", "1", "taskset CPU list for the servers (empty: not pinned); run the tool itself under taskset -c 0")
	fs.StringVar(&o.logLevel, "server-log-level", "warn", "log level of both servers (their logs go to a temporary directory)")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	fs.Usage = commandUsage(fs, `versus: Herald beside Centrifugo, in the same run (issue 12).

For each round, each subscriber count and each server (the first server
alternates from round to round), starts a fresh server pinned to
--server-cpus, opens the subscribers (each a unique user with an HS256 JWT)
and subscribes each to one channel, then publishes --messages messages back
to back to that channel through the server's HTTP API.

  connects/s     subscribers ÷ time from the first dial to the last
                 subscribe confirmation (slowest worker)
  deliveries/s   deliveries ÷ time from the first publish to the last receipt
  unicast/s      --unicast-users connected (not subscribed), then
                 --unicast-messages rounds of one message to each user in
                 turn, each after the previous answer: sends ÷ time from the
                 first send to the last receipt
  unicast/s, N in flight
                 the same on a fresh server with --unicast-inflight senders
                 at once, each on its own keep-alive connection and with its
                 own share of the users (each user's messages stay in order)
  churn attempts/s
                 --churn-base idle connections subscribe to the channel,
                 then --churn-inflight loops make attempts one after the
                 other for --churn-duration, each a fresh user from its own
                 loopback address: 40 % present a token with a wrong
                 signature and must be refused (Herald: close 4002 after the
                 upgrade; Centrifugo: disconnect 3500), 60 % connect and
                 subscribe, and a third of those (20 % of all) drop without
                 a close frame (TCP reset and FIN in turn) while the rest
                 close with a close handshake. Attempts ÷ time from the
                 first attempt to the end of the last. Successes, expected
                 refusals and unexpected outcomes are counted apart. Then
                 the server's own counts (Herald /api/stats, Centrifugo
                 /api/info) must come back to the base within
                 --churn-settle (else the excess is a leak), and every base
                 connection must receive one published message. Centrifugo
                 republishes the counts /api/info reads every 3 s, so its
                 readings count from 3.5 s after the churn on.

Herald: token in the /ws URL, {"type":"subscribe"}, POST
/api/channels/{channel}/messages, unicast POST /api/users/{user}/messages.
Centrifugo: /connection/websocket with the
JSON protocol (connect and subscribe commands), POST /api/publish with
X-API-Key; memory engine, no history, no presence; unicast publishes to the
personal channel #<user> each connection is subscribed to on the server side
(client.subscribe_to_user_personal_channel, enabled for that workload only).

Example:
  taskset -c 0 herald-bench versus --server-bin /tmp/herald \
    --centrifugo-bin /tmp/centrifugo/centrifugo --rounds 3
  # unicast and churn only, without the fan-out workloads:
  taskset -c 0 herald-bench versus --server-bin /tmp/herald \
    --centrifugo-bin /tmp/centrifugo/centrifugo --rounds 3 \
    --subscribers '' --unicast-inflight 16 --churn-inflight 64 \
    --churn-base 1000 --churn-duration 5s`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if strings.TrimSpace(*sizes) != "" { // empty: no fan-out workload
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				return fmt.Errorf("--subscribers: not a positive count: %q", s)
			}
			o.sizes = append(o.sizes, n)
		}
	}
	if o.msgs <= 0 || o.rounds <= 0 {
		return errors.New("--messages and --rounds must be positive")
	}
	if o.uniUsers > 0 && o.uniEach <= 0 {
		return errors.New("--unicast-messages must be positive")
	}
	if o.uniInflight < 1 {
		return errors.New("--unicast-inflight must be at least 1")
	}
	if o.churnInflight < 0 || o.churnBase < 0 || o.churnInflight > 0 && (o.churnDuration <= 0 || o.churnSettle <= 0) {
		return errors.New("--churn-inflight and --churn-base must not be negative, --churn-duration and --churn-settle must be positive")
	}
	res := &versusResult{HeraldBin: o.heraldBin, CentrifugoBin: o.cfBin, Sizes: o.sizes, UnicastUsers: o.uniUsers, UnicastEach: o.uniEach,
		UniInflight: o.uniInflight, Messages: o.msgs, PayloadSize: o.payload, ServerCPUs: o.serverCPUs}
	if o.churnInflight > 0 {
		res.ChurnInflight, res.ChurnBase, res.ChurnDuration = o.churnInflight, o.churnBase, o.churnDuration
	}
	for round := 1; round <= o.rounds; round++ {
		order := []string{serverHerald, serverCentrifugo}
		if round%2 == 0 {
			slices.Reverse(order)
		}
		type work struct {
			name string
			n    int
		}
		var works []work
		for _, n := range o.sizes {
			works = append(works, work{workloadFanout, n})
		}
		if o.uniUsers > 0 {
			works = append(works, work{workloadUnicast, o.uniUsers})
			if o.uniInflight > 1 {
				works = append(works, work{workloadUnicastConc, o.uniUsers})
			}
		}
		if o.churnInflight > 0 {
			works = append(works, work{workloadChurn, o.churnBase})
		}
		for _, wk := range works {
			for _, server := range order {
				var s versusSample
				var err error
				if wk.name == workloadChurn {
					s, err = versusChurn(ctx, o, server, round)
				} else {
					s, err = versusOnce(ctx, o, server, wk.name, wk.n, round)
				}
				if err != nil {
					return fmt.Errorf("round %d, %s, %s of %d: %w", round, server, wk.name, wk.n, err)
				}
				if c := s.Churn; c != nil {
					fmt.Fprintf(os.Stderr, "round %d %-10s %-11s %5d: %.0f attempts/s (%d in %s: %d clean, %d dropped, %d refused, %d unexpected %s), after: leak %d, subs leak %d, %d/%d delivered, load %.2f\n",
						round, server, wk.name, wk.n, c.AttemptsPerSec, c.Attempts, c.Took.Round(time.Millisecond), c.Clean, c.Dropped,
						c.Refused, c.Unexpected, c.errorList(), c.Leak, c.SubsLeak, s.Deliveries, s.Expected, s.LoadAvg)
				} else {
					fmt.Fprintf(os.Stderr, "round %d %-10s %-11s %5d: %.0f connects/s (%d connected in %s), %d sends, %.0f sends/s, %.0f deliveries/s (%d/%d, window %s), load %.2f\n",
						round, server, wk.name, wk.n, s.ConnectsPerSec, s.Connected, s.ConnectTook.Round(time.Millisecond),
						s.Sends, s.SendsPerSec, s.DeliveriesPerSec, s.Deliveries, s.Expected, us(s.Window), s.LoadAvg)
				}
				res.Samples = append(res.Samples, s)
			}
		}
	}
	if o.json {
		return printJSON(res)
	}
	printVersus(os.Stdout, res)
	return nil
}

// versusOnce measures one server for one subscriber count on a fresh server.
func versusOnce(ctx context.Context, o *versusOptions, server, workload string, n, round int) (versusSample, error) {
	unicast := workload == workloadUnicast || workload == workloadUnicastConc
	inflight := 1 // senders at once
	if workload == workloadUnicastConc {
		inflight = o.uniInflight
	}
	s := versusSample{Server: server, Workload: workload, Subscribers: n, Round: round, LoadAvg: loadAverage()}
	if inflight > 1 {
		s.Inflight = inflight
	}
	var t *target
	var err error
	switch server {
	case serverHerald:
		sf := serverFlags{bin: o.heraldBin, logLevel: o.logLevel, cpus: o.serverCPUs}
		t, err = start(ctx, &sf, n+1000, nodeSpec{apiKey: randomHex(24), jwtSecret: randomHex(32)})
	case serverCentrifugo:
		t, err = startCentrifugo(ctx, o.cfBin, o.serverCPUs, o.logLevel, unicast)
	}
	if err != nil {
		return s, err
	}
	defer t.stop(false)

	const channel = "bench"
	base := job{Mode: modeFanout, URL: t.wsURL(), JWTSecret: t.jwtSecret, UserPrefix: userPrefix(), Channel: channel,
		Lifetime: o.lf.connectTime + o.roundTimeout + o.pause + 2*time.Minute, NoSubscribe: unicast}
	if server == serverCentrifugo {
		base.Proto = protoCentrifugo
	}
	p, err := startPool(base, n, o.lf)
	if err != nil {
		return s, err
	}
	defer p.stop()
	ready, err := p.awaitReady(ctx, o.lf.connectTime)
	if err != nil {
		return s, err
	}
	s.Connected, s.Failed, s.ConnectTook = ready.Connected, ready.Failed, ready.Took
	if ready.Connected == 0 {
		return s, fmt.Errorf("no connection could be opened: %v", ready.Errors)
	}
	if ready.Failed > 0 {
		fmt.Fprintf(os.Stderr, "%s: %s\n", server, ready)
	}
	if ready.Took > 0 {
		s.ConnectsPerSec = float64(ready.Connected) / ready.Took.Seconds()
	}
	if server == serverHerald && !unicast { // as fanout does: the hub counts every subscriber
		if _, err := t.waitStats(ctx, time.Minute, func(st stats) bool { return st.ChannelCounts[channel] >= ready.Connected }); err != nil {
			return s, err
		}
	}

	// The fan-out, or the unicast sends: each connection expects perConn
	// messages.
	perConn := o.msgs
	if unicast {
		perConn = o.uniEach
	}
	s.Expected = int64(ready.Connected) * int64(perConn)
	if _, err := p.request(ctx, command{Cmd: cmdArm, Round: 1, Expect: perConn}, evArmed, 30*time.Second); err != nil {
		return s, err
	}
	if err := sleepUntil(ctx, time.Now().Add(o.pause)); err != nil {
		return s, err
	}
	// One keep-alive connection per sender.
	apis := make([]*apiConn, inflight)
	for g := range apis {
		apis[g] = newAPIConn(t)
		defer apis[g].close()
		if err := apis[g].dial(); err != nil {
			return s, err
		}
	}
	// The requests: path and the channel (Centrifugo) of send i.
	sends := o.msgs
	if unicast {
		sends = n * o.uniEach
	}
	user := func(i int) string { return base.userID(i % n) }
	seqOf := func(i int) int {
		if unicast {
			return i / n
		}
		return i
	}
	path := func(i int) string {
		switch {
		case server == serverCentrifugo:
			return "/api/publish"
		case unicast:
			return "/api/users/" + user(i) + "/messages"
		}
		return "/api/channels/" + channel + "/messages"
	}
	cfChannel := func(i int) string {
		if unicast {
			return "#" + user(i)
		}
		return channel
	}
	cpu0, err := readCPU(t.pid)
	if err != nil {
		return s, err
	}
	io0, io0Err := readIOCalls(t.pid) // unreadable for another user's server: no figure
	client0 := p.cpu()
	// sender g sends, in order, the sends i whose user's index is g modulo
	// the senders: each user's messages go through one sender, in order.
	sender := func(g int) error {
		api := apis[g]
		body := make([]byte, 0, o.payload+256)
		data := make([]byte, 0, o.payload+128)
		for i := range sends {
			if inflight > 1 && (i%n)%inflight != g {
				continue
			}
			if server == serverCentrifugo {
				data = fanoutBody(data[:0], 1, seqOf(i), o.payload)
				body = cfPublishBody(body[:0], cfChannel(i), data)
			} else {
				body = fanoutBody(body[:0], 1, seqOf(i), o.payload)
			}
			if err := publish(api, server, path(i), body); err != nil {
				return err
			}
		}
		return nil
	}
	start := time.Now()
	if inflight == 1 {
		if err := sender(0); err != nil {
			return s, err
		}
	} else {
		errs := make(chan error, inflight)
		for g := range inflight {
			go func() { errs <- sender(g) }()
		}
		var first error
		for range inflight {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		if first != nil {
			return s, first
		}
	}
	s.Sends = int64(sends)
	s.Send = time.Since(start)
	_, waitErr := p.collectRound(ctx, evDone, 1, o.roundTimeout)
	cpu1, err := readCPU(t.pid)
	if err != nil {
		return s, err
	}
	io1, io1Err := readIOCalls(t.pid)
	s.ServerCPU = cpu1.sub(cpu0).SchedStat
	if io0Err == nil && io1Err == nil {
		s.ServerIO = io1.sub(io0)
	}
	s.ClientCPU = p.cpu() - client0
	end := time.Now()
	s.TimedOut = waitErr != nil
	evs, err := p.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second)
	if err != nil {
		return s, err
	}
	lat := newHistogram()
	var last int64
	for _, e := range evs {
		s.Deliveries += e.Received
		s.Duplicates += e.Duplicates
		last = max(last, e.LastUnixNs)
		if e.Latency != nil {
			lat.merge(*e.Latency)
		}
	}
	s.Loss = s.Expected - s.Deliveries
	s.Window = end.Sub(start)
	if last > 0 && !s.TimedOut {
		s.Window = time.Duration(last - start.UnixNano())
	}
	if s.Window > 0 {
		s.DeliveriesPerSec = float64(s.Deliveries) / s.Window.Seconds()
		s.SendsPerSec = float64(s.Sends) / s.Window.Seconds()
	}
	sum := lat.summary()
	s.P50, s.P99 = sum.P50, sum.P99
	return s, nil
}

// versusRow is one line of the side-by-side table: a workload's medians
// over the rounds.
type versusRow struct {
	Workload   string
	Herald     float64
	Centrifugo float64
	Goal       float64 // the ratio aimed at; 0 for a figure only reported
	Cost       bool    // lower is better: the ratio is Centrifugo ÷ Herald
	Fraction   bool    // a small figure, printed with two decimals
}

// Ratio is how many times better Herald did: Herald ÷ Centrifugo for a
// rate, Centrifugo ÷ Herald for a cost; 0 when the divisor has no figure.
func (r versusRow) Ratio() float64 {
	num, den := r.Herald, r.Centrifugo
	if r.Cost {
		num, den = den, num
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// median is the median of f over res's samples of server, workload and
// size n; 0 without samples.
func (res *versusResult) median(server, workload string, n int, f func(versusSample) float64) float64 {
	var v []float64
	for _, s := range res.Samples {
		if s.Server == server && s.Workload == workload && s.Subscribers == n {
			v = append(v, f(s))
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

// row is the row named name of both servers' medians of f for workload at
// size n.
func (res *versusResult) row(name, workload string, n int, f func(versusSample) float64) versusRow {
	return versusRow{Workload: name, Herald: res.median(serverHerald, workload, n, f), Centrifugo: res.median(serverCentrifugo, workload, n, f)}
}

// withCosts returns the row of a workload's rate (goal 1.5×) and under it
// each server's CPU and I/O system calls per operation, ops being a sample's
// operations (sends, attempts) and op their name.
func (res *versusResult) withCosts(name, workload string, n int, rate func(versusSample) float64, op string, ops func(versusSample) int64) []versusRow {
	r := res.row(name, workload, n, rate)
	r.Goal = 1.5
	cpu := res.row("  server CPU per "+op+", µs", workload, n, func(s versusSample) float64 { return perOp(s.ServerCPU, ops(s)) })
	cpu.Cost = true
	calls := res.row("  server I/O system calls per "+op, workload, n, func(s versusSample) float64 { return perCall(s.ServerIO, ops(s)) })
	calls.Cost, calls.Fraction = true, true
	return []versusRow{r, cpu, calls}
}

// perOp is a sample's server CPU per operation (n of them), in µs; 0
// without operations.
func perOp(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

// perCall returns the I/O system calls of c per operation, 0 when no
// operation was made.
func perCall(c ioCalls, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(c.Reads+c.Writes) / float64(n)
}

// publish posts body to server's API at path and fails unless it was
// accepted; Centrifugo answers API errors with 200 and an "error" object.
func publish(api *apiConn, server, path string, body []byte) error {
	status, answer, err := api.post(path, body)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if status != 200 || server == serverCentrifugo && strings.Contains(string(answer), `"error"`) {
		return fmt.Errorf("POST %s: status %d: %s", path, status, truncate(answer, 200))
	}
	return nil
}

// versusRows computes the table's rows: per subscriber count, the median
// connects/s and deliveries/s of each server.
func versusRows(res *versusResult) []versusRow {
	var rows []versusRow
	for _, n := range res.Sizes {
		r := res.row(fmt.Sprintf("connects/s, %d clients", n), "fanout", n, func(s versusSample) float64 { return s.ConnectsPerSec })
		r.Goal = 1.5
		rows = append(rows, r)
	}
	for _, n := range res.Sizes {
		r := res.row(fmt.Sprintf("fan-out deliveries/s, %d subscribers", n), "fanout", n, func(s versusSample) float64 { return s.DeliveriesPerSec })
		r.Goal = 1.5
		rows = append(rows, r)
	}
	if n := res.UnicastUsers; n > 0 {
		rate := func(s versusSample) float64 { return s.SendsPerSec }
		sends := func(s versusSample) int64 { return s.Sends }
		rows = append(rows, res.withCosts(fmt.Sprintf("unicast sends/s, %d users", n), workloadUnicast, n, rate, "send", sends)...)
		if res.UniInflight > 1 {
			rows = append(rows, res.withCosts(fmt.Sprintf("unicast sends/s, %d users, %d in flight", n, res.UniInflight), workloadUnicastConc, n, rate, "send", sends)...)
		}
	}
	if res.ChurnInflight > 0 {
		rate := func(s versusSample) float64 {
			if s.Churn == nil {
				return 0
			}
			return s.Churn.AttemptsPerSec
		}
		attempts := func(s versusSample) int64 {
			if s.Churn == nil {
				return 0
			}
			return s.Churn.Attempts
		}
		rows = append(rows, res.withCosts(fmt.Sprintf("churn attempts/s, %d in flight, %d idle (40%% bad tokens, 20%% drops)", res.ChurnInflight, res.ChurnBase),
			workloadChurn, res.ChurnBase, rate, "attempt", attempts)...)
	}
	return rows
}

func printVersus(w io.Writer, res *versusResult) {
	fmt.Fprintf(w, "Herald (%s) beside Centrifugo (%s): %d message(s) of ~%d bytes per fan-out, servers on CPUs %q, %d samples\n\n",
		res.HeraldBin, res.CentrifugoBin, res.Messages, res.PayloadSize, res.ServerCPUs, len(res.Samples))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tserver\tworkload\tconns\tload\tconnected\tconnect\tconnects/s\tsends\tdeliveries\tloss\tdup\twindow\tsends/s\tdeliveries/s\tserver CPU\tclient CPU\tp50\tp99\t")
	for _, s := range res.Samples {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.2f\t%d\t%s\t%.0f\t%d\t%d\t%d\t%d\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t\n",
			s.Round, s.Server, s.Workload, s.Subscribers, s.LoadAvg, s.Connected, us(s.ConnectTook), s.ConnectsPerSec,
			s.Sends, s.Deliveries, s.Loss, s.Duplicates, us(s.Window), s.SendsPerSec, s.DeliveriesPerSec, us(s.ServerCPU), us(s.ClientCPU), us(s.P50), us(s.P99))
	}
	tw.Flush()
	printChurnSamples(w, res)
	fmt.Fprintln(w, "\nmedians over the rounds (a rate's ratio is Herald ÷ Centrifugo, a cost's Centrifugo ÷ Herald: above 1 Herald is ahead)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tHerald\tCentrifugo\tratio\tgoal\tmet")
	for _, r := range versusRows(res) {
		goal, met := "—", "—"
		if r.Goal > 0 {
			goal, met = fmt.Sprintf("≥%.1f×", r.Goal), "no"
			if r.Ratio() >= r.Goal {
				met = "yes"
			}
		}
		format := "%s\t%.0f\t%.0f\t%.2f×\t%s\t%s\n"
		if r.Cost {
			format = "%s\t%.1f\t%.1f\t%.2f×\t%s\t%s\n"
		}
		if r.Fraction {
			format = "%s\t%.2f\t%.2f\t%.2f×\t%s\t%s\n"
		}
		fmt.Fprintf(tw, format, r.Workload, r.Herald, r.Centrifugo, r.Ratio(), goal, met)
	}
	tw.Flush()
	var loss int64
	var unexpected int64
	var leaks, churned int
	for _, s := range res.Samples {
		loss += s.Loss + s.Duplicates
		if c := s.Churn; c != nil {
			churned++
			unexpected += c.Unexpected
			if !c.Settled || c.Leak != 0 || c.SubsLeak != 0 || c.BaseDropped != 0 {
				leaks++
			}
		}
	}
	fmt.Fprintf(w, "\nlost or repeated deliveries, all samples: %d\n", loss)
	if churned > 0 {
		fmt.Fprintf(w, "churn: unexpected outcomes, all samples: %d; samples whose server did not come back to its base connections: %d of %d\n",
			unexpected, leaks, churned)
	}
}

// printChurnSamples prints the churn samples' own figures: the outcomes of
// the attempts and the server's state after them.
func printChurnSamples(w io.Writer, res *versusResult) {
	if res.ChurnInflight == 0 {
		return
	}
	fmt.Fprintf(w, "\nchurn: %d loops for %s around %d idle subscribers; after it, the server's counts minus the base connections still open (leak) and one message to each\n",
		res.ChurnInflight, res.ChurnDuration, res.ChurnBase)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tserver\twindow\tattempts\tattempts/s\tclean\tdropped\trefused\tunexpected\tp50\tp99\tserver CPU\tsettled\tconns after\tleak\tsubs leak\tbase dropped\tdelivered\t")
	for _, s := range res.Samples {
		c := s.Churn
		if c == nil {
			continue
		}
		settled := "no"
		if c.Settled {
			settled = "in " + us(c.SettleTook)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.0f\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d/%d\t\n",
			s.Round, s.Server, us(c.Took), c.Attempts, c.AttemptsPerSec, c.Clean, c.Dropped, c.Refused, c.Unexpected,
			us(c.P50), us(c.P99), us(s.ServerCPU), settled, c.ConnsAfter, c.Leak, c.SubsLeak, c.BaseDropped, s.Deliveries, s.Expected)
	}
	tw.Flush()
	for _, s := range res.Samples {
		if c := s.Churn; c != nil && c.Unexpected > 0 {
			fmt.Fprintf(w, "round %d %s: unexpected: %s\n", s.Round, s.Server, c.errorList())
		}
	}
}
