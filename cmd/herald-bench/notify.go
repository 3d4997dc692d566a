package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// notifyRound is one timed burst of POST /api/notifications.
type notifyRound struct {
	Round     int            `json:"round"`
	Created   int64          `json:"created"` // 201 answers
	Failed    int64          `json:"failed"`  // other answers and transport errors
	Errors    map[string]int `json:"errors,omitempty"`
	Elapsed   time.Duration  `json:"elapsed"` // first POST to last answer
	PerSecond float64        `json:"perSecond"`
	Delivered int64          `json:"delivered"` // notification:new received
	Loss      int64          `json:"loss"`      // created but never received
	// CPU is the server's CPU time from the first POST to the last receipt.
	CPU      time.Duration `json:"cpu"`
	PerNotif time.Duration `json:"cpuPerNotification"`
	// ReadCalls and WriteCalls are the server's read-like and write-like
	// system calls per notification over the same window (see ioCalls):
	// what the kernel charges for each notification besides its CPU. Both
	// are 0 when /proc/PID/io cannot be read (another user's server).
	ReadCalls  float64 `json:"readCallsPerNotification"`
	WriteCalls float64 `json:"writeCallsPerNotification"`
	// PerCommit is how many notifications each of the store's commits
	// carried over the round, and WriterBusy the share of the round the
	// store spent committing (herald_store_commit_…: see commitStats).
	// Committed is the notifications those commits stored. All 0 for a
	// server without the metrics, or whose /metrics the API key cannot read.
	PerCommit  float64        `json:"notificationsPerCommit"`
	WriterBusy float64        `json:"writerBusy"`
	Committed  int64          `json:"committed"`
	PostRTT    latencySummary `json:"postRoundTrip"` // POST start to its answer
	PostToRecv latencySummary `json:"postToReceipt"` // POST start to notification:new
	// ClientCPU is the load generator's CPU time over the same window: the
	// posting clients of this process and the workers.
	ClientCPU time.Duration `json:"clientCpu"`
}

// notifyResult is a whole notify run.
type notifyResult struct {
	Store       string        `json:"store"`
	Users       int           `json:"users"`
	Concurrency int           `json:"concurrency"`
	Batch       int           `json:"batch"` // notifications per request
	Ready       readySummary  `json:"ready"`
	Rounds      []notifyRound `json:"rounds"`
}

func runNotify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench notify", flag.ContinueOnError)
	var sf serverFlags
	var lf loadFlags
	sf.register(fs)
	lf.register(fs)
	users := fs.Int("users", 1000, "target users, each with one connected client; notifications go to them in turn")
	conc := fs.Int("concurrency", 64, "HTTP clients posting at once, each on its own keep-alive connection")
	batch := fs.Int("batch", 1, "notifications per request: 1 posts one notification, more post {\"notifications\":[...]} to as many users in turn (at most 1,000)")
	duration := fs.Duration("duration", 10*time.Second, "length of each round")
	count := fs.Int("count", 0, "stop a round after this many notifications instead (0: use --duration)")
	rounds := fs.Int("rounds", 3, "rounds on the same connections; each is reported, then the best and the spread")
	pause := fs.Duration("pause", 2*time.Second, "quiet time before each round")
	drain := fs.Duration("drain-timeout", 30*time.Second, "bound on waiting for the last notifications to arrive")
	jsonOut := fs.Bool("json", false, "print the result as JSON on stdout")
	keep := fs.Bool("keep", false, "keep the started server's directory (log, database)")
	fs.Usage = commandUsage(fs, `notify: throughput of persisted notifications and POST-to-receipt latency.

Connects one client per target user, then --concurrency HTTP clients post
notifications (POST /api/notifications, answered 201 once stored) for
--duration or --count (--batch > 1: that many per request, under
"notifications", to consecutive users). Each notification's data carries the time its POST
started; the user's client records receipt of notification:new minus that
time. Reports notifications per second, loss (created but not received) and
latency percentiles. The server uses SQLite unless --database-url is given.`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *users <= 0 || *conc <= 0 || *rounds <= 0 || (*duration <= 0 && *count <= 0) {
		return fmt.Errorf("--users, --concurrency, --rounds and --duration or --count must be positive")
	}
	if *batch < 1 || *batch > 1000 {
		return fmt.Errorf("--batch must be between 1 and 1000")
	}
	t, err := startOrAttach(ctx, &sf, *users+1000)
	if err != nil {
		return err
	}
	defer t.stop(*keep)

	roundBound := *duration + *drain + *pause + time.Minute
	if *count > 0 {
		roundBound = 10*time.Minute + *drain
	}
	base := job{Mode: modeNotify, URL: t.wsURL(), JWTSecret: t.jwtSecret, UserPrefix: userPrefix(),
		Lifetime: lf.connectTime + time.Duration(*rounds)*roundBound}
	p, err := startPool(base, *users, lf)
	if err != nil {
		return err
	}
	defer p.stop()
	res := &notifyResult{Store: "sqlite", Users: *users, Concurrency: *conc, Batch: *batch}
	if sf.databaseURL != "" || sf.pid != 0 {
		res.Store = "postgresql"
		if sf.pid != 0 {
			res.Store = "attached server"
		}
	}
	if res.Ready, err = p.awaitReady(ctx, lf.connectTime); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "notify: %s\n", res.Ready)
	if res.Ready.Failed > 0 {
		return fmt.Errorf("every target user needs its client connected: %s", res.Ready)
	}
	if _, err := t.waitStats(ctx, time.Minute, func(s stats) bool { return s.TotalConnections >= *users }); err != nil {
		return err
	}

	for r := 1; r <= *rounds; r++ {
		rr, err := notifyOnce(ctx, t, p, base.UserPrefix, r, *users, *conc, *batch, *duration, *count, *pause, *drain)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "round %d: %d created (%.0f/s), %d failed, loss %d, POST-to-receipt p50 %s p99 %s\n",
			r, rr.Created, rr.PerSecond, rr.Failed, rr.Loss, us(rr.PostToRecv.P50), us(rr.PostToRecv.P99))
		res.Rounds = append(res.Rounds, rr)
	}
	if *jsonOut {
		return printJSON(res)
	}
	printNotify(os.Stdout, res)
	return nil
}

func notifyOnce(ctx context.Context, t *target, p *pool, prefix string, round, users, conc, batch int,
	duration time.Duration, count int, pause, drain time.Duration) (notifyRound, error) {
	rr := notifyRound{Round: round, Errors: map[string]int{}}
	if _, err := p.request(ctx, command{Cmd: cmdArm, Round: round}, evArmed, 30*time.Second); err != nil {
		return rr, err
	}
	if err := sleepUntil(ctx, time.Now().Add(pause)); err != nil {
		return rr, err
	}
	cpu0, err := readCPU(t.pid)
	if err != nil {
		return rr, err
	}
	io0, io0Err := readIOCalls(t.pid) // unreadable for another user's server: no figure
	commits0, commits0Err := t.commits(ctx)
	commitsAt := time.Now()
	self0, _ := readCPU(os.Getpid())
	client0 := p.cpu() + self0.Stat

	var (
		next, created, failed atomic.Int64
		lastAnswer            atomic.Int64
		mu                    sync.Mutex
		wg                    sync.WaitGroup
	)
	rtt := newHistogram()
	start := time.Now()
	deadline := start.Add(duration)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := newAPIConn(t)
			defer api.close()
			body := make([]byte, 0, 256*batch)
			for ctx.Err() == nil {
				first := next.Add(int64(batch)) - int64(batch)
				n := int64(batch)
				if count > 0 {
					n = min(n, int64(count)-first)
				}
				if n <= 0 || count <= 0 && time.Now().After(deadline) {
					return
				}
				sent := time.Now()
				if batch == 1 {
					body = notifyBody(body[:0], prefix, int(first%int64(users)), first, sent)
				} else {
					body = append(body[:0], `{"notifications":[`...)
					for i := first; i < first+n; i++ {
						if i > first {
							body = append(body, ',')
						}
						body = notifyBody(body, prefix, int(i%int64(users)), i, sent)
					}
					body = append(body, "]}"...)
				}
				status, answer, err := api.post("/api/notifications", body)
				now := time.Now()
				storeMax(&lastAnswer, now.UnixNano())
				rtt.record(int64(now.Sub(sent)))
				if err == nil && status == 201 {
					created.Add(n)
					continue
				}
				failed.Add(n)
				key := ""
				if err != nil {
					key = errorKind(err)
				} else {
					key = strconv.Itoa(status) + " " + truncate(answer, 80)
				}
				mu.Lock()
				rr.Errors[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rr.Created, rr.Failed = created.Load(), failed.Load()
	rr.Elapsed = time.Duration(lastAnswer.Load() - start.UnixNano())
	if rr.Elapsed > 0 {
		rr.PerSecond = float64(rr.Created) / rr.Elapsed.Seconds()
	}

	// Wait for the last pushes, then read the CPU and the latencies.
	var evs []event
	drainEnd := time.Now().Add(drain)
	for {
		evs, err = p.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second)
		if err != nil {
			return rr, err
		}
		var got int64
		for _, e := range evs {
			got += e.Received
		}
		if got >= rr.Created || time.Now().After(drainEnd) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cpu1, err := readCPU(t.pid)
	if err != nil {
		return rr, err
	}
	io1, io1Err := readIOCalls(t.pid)
	commits1, commits1Err := t.commits(ctx)
	window := time.Since(commitsAt)
	self1, _ := readCPU(os.Getpid())
	rr.ClientCPU = p.cpu() + self1.Stat - client0
	lat := newHistogram()
	for _, e := range evs {
		rr.Delivered += e.Received
		if e.Latency != nil {
			lat.merge(*e.Latency)
		}
	}
	rr.Loss = rr.Created - rr.Delivered
	rr.CPU = cpu1.sub(cpu0).Stat
	if rr.Created > 0 {
		rr.PerNotif = rr.CPU / time.Duration(rr.Created)
		if io0Err == nil && io1Err == nil {
			calls := io1.sub(io0)
			rr.ReadCalls = float64(calls.Reads) / float64(rr.Created)
			rr.WriteCalls = float64(calls.Writes) / float64(rr.Created)
		}
	}
	if commits0Err == nil && commits1Err == nil && commits1.Commits > commits0.Commits {
		rr.Committed = int64(commits1.Notifications - commits0.Notifications)
		rr.PerCommit = (commits1.Notifications - commits0.Notifications) / (commits1.Commits - commits0.Commits)
		rr.WriterBusy = (commits1.Busy - commits0.Busy) / window.Seconds()
	}
	rr.PostRTT = rtt.summary()
	rr.PostToRecv = lat.summary()
	if len(rr.Errors) == 0 {
		rr.Errors = nil
	}
	return rr, nil
}

// notifyBody appends the JSON of notification i for user number u; its data
// carries the POST's start time for the receiving client.
func notifyBody(b []byte, prefix string, u int, i int64, sent time.Time) []byte {
	b = append(b, `{"userId":"`...)
	b = append(b, prefix...)
	b = strconv.AppendInt(b, int64(u), 10)
	b = append(b, `","type":"bench","title":"Benchmark notification","message":"Notification number `...)
	b = strconv.AppendInt(b, i, 10)
	b = append(b, `","data":{"i":`...)
	b = strconv.AppendInt(b, i, 10)
	b = append(b, `,"sentNs":`...)
	b = strconv.AppendInt(b, sent.UnixNano(), 10)
	return append(b, "}}"...)
}

// commitText formats a commit figure, "—" for a server without the metrics.
func commitText(v float64, format string) string {
	if v <= 0 {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// callsText formats system calls per operation, "—" when none were counted.
func callsText(per float64) string {
	if per <= 0 {
		return "—"
	}
	return strconv.FormatFloat(per, 'f', 2, 64)
}

func printNotify(w io.Writer, res *notifyResult) {
	fmt.Fprintf(w, "notifications: store %s, %d users connected, %d HTTP clients, %d per request\n\n", res.Store, res.Ready.Connected, res.Concurrency, max(res.Batch, 1))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tcreated\tfailed\tper second\tloss\tclient CPU\tCPU/notification\treads/notification\twrites/notification\tper commit\twriter busy\tPOST p50\tPOST p99\trecv p50\trecv p90\trecv p99\trecv max\t")
	for _, r := range res.Rounds {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Round, r.Created, r.Failed, r.PerSecond, r.Loss, us(r.ClientCPU), us(r.PerNotif), callsText(r.ReadCalls), callsText(r.WriteCalls),
			commitText(r.PerCommit, "%.1f"), commitText(100*r.WriterBusy, "%.0f %%"),
			us(r.PostRTT.P50), us(r.PostRTT.P99),
			us(r.PostToRecv.P50), us(r.PostToRecv.P90), us(r.PostToRecv.P99), us(r.PostToRecv.Max))
	}
	tw.Flush()
	var rates []float64
	var p99s []time.Duration
	for _, r := range res.Rounds {
		rates = append(rates, r.PerSecond)
		p99s = append(p99s, r.PostToRecv.P99)
		for k, v := range r.Errors {
			fmt.Fprintf(w, "round %d: %d × %s\n", r.Round, v, k)
		}
	}
	slices.Sort(rates)
	slices.Sort(p99s)
	fmt.Fprintf(w, "\nper second          best %.0f  median %.0f  worst %.0f\n", rates[len(rates)-1], rates[len(rates)/2], rates[0])
	fmt.Fprintf(w, "POST-to-receipt p99 best %s  median %s  worst %s\n", us(p99s[0]), us(p99s[len(p99s)/2]), us(p99s[len(p99s)-1]))
}
