package main

import (
	"context"
	"encoding/json"
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

// fanoutRound is one round of a fan-out run: M messages sent back to back to
// a channel and their receipt by every subscriber.
type fanoutRound struct {
	Round      int   `json:"round"`
	Expected   int64 `json:"expected"`   // subscribers × messages
	Deliveries int64 `json:"deliveries"` // distinct messages received
	Loss       int64 `json:"loss"`
	Duplicates int64 `json:"duplicates"`
	Reordered  int64 `json:"reordered"`
	Stray      int64 `json:"stray"`
	// Accepted is the sum of the server's {"delivered":N} answers.
	Accepted int64 `json:"accepted"`
	TimedOut bool  `json:"timedOut"`

	Send   time.Duration `json:"send"`   // first POST to last answer
	Window time.Duration `json:"window"` // first POST to last receipt
	// CPU is the server's CPU time over the window; PerDelivery divides the
	// /proc/PID/stat figure (10 ms ticks) by the deliveries, PerDeliverySched
	// the per-thread schedstat figure (nanoseconds).
	CPU              time.Duration  `json:"cpu"`
	CPUSched         time.Duration  `json:"cpuSched"`
	PerDelivery      time.Duration  `json:"perDelivery"`
	PerDeliverySched time.Duration  `json:"perDeliverySched"`
	Latency          latencySummary `json:"latency"`
	// ClientCPU is the workers' CPU time over the window: the load
	// generator's share of the two cores.
	ClientCPU time.Duration `json:"clientCpu"`
}

// fanoutResult is a whole fan-out run.
type fanoutResult struct {
	Subscribers int           `json:"subscribers"`
	Messages    int           `json:"messages"`
	PayloadSize int           `json:"payloadBytes"`
	Ready       readySummary  `json:"ready"`
	Rounds      []fanoutRound `json:"rounds"`
}

func runFanout(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench fanout", flag.ContinueOnError)
	var sf serverFlags
	var lf loadFlags
	sf.register(fs)
	lf.register(fs)
	subs := fs.Int("subscribers", 5000, "connections subscribed to the channel (unique users)")
	msgs := fs.Int("messages", 100, "messages per round, sent back to back (each POST after the previous answer)")
	rounds := fs.Int("rounds", 5, "rounds on the same connections; each is reported, then the best and the spread")
	channel := fs.String("channel", "bench", "channel name")
	payload := fs.Int("payload", 128, "approximate size of each message body in bytes")
	pause := fs.Duration("pause", 2*time.Second, "quiet time before each round, so the window holds only the round's work")
	roundTimeout := fs.Duration("round-timeout", time.Minute, "bound on one round; missing deliveries after it count as lost")
	jsonOut := fs.Bool("json", false, "print the result as JSON on stdout")
	keep := fs.Bool("keep", false, "keep the started server's directory (log, database)")
	fs.Usage = commandUsage(fs, `fanout: server CPU per delivery and delivery latency of channel sends.

Opens --subscribers connections that join one channel, then, per round, sends
--messages messages back to back through POST /api/channels/{channel}/messages.
Each body carries its round, a sequence number and its send time in Unix
nanoseconds; every worker records receipt time minus send time for every
delivery (same machine, same clock) and checks that no message is lost,
repeated or reordered. Server CPU per delivery is the growth of utime+stime in
/proc/PID/stat from just before the first POST to the last receipt, divided
by the deliveries.`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *subs <= 0 || *msgs <= 0 || *rounds <= 0 {
		return fmt.Errorf("--subscribers, --messages and --rounds must be positive")
	}
	t, err := startOrAttach(ctx, &sf, *subs+1000)
	if err != nil {
		return err
	}
	defer t.stop(*keep)

	base := job{Mode: modeFanout, URL: t.wsURL(), JWTSecret: t.jwtSecret, UserPrefix: userPrefix(), Channel: *channel,
		Lifetime: lf.connectTime + time.Duration(*rounds)*(*roundTimeout+*pause+time.Minute)}
	p, err := startPool(base, *subs, lf)
	if err != nil {
		return err
	}
	defer p.stop()
	res := &fanoutResult{Subscribers: *subs, Messages: *msgs, PayloadSize: *payload}
	if res.Ready, err = p.awaitReady(ctx, lf.connectTime); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fanout: %s\n", res.Ready)
	if res.Ready.Connected == 0 {
		return fmt.Errorf("no connection could be opened: %v", res.Ready.Errors)
	}
	if _, err := t.waitStats(ctx, time.Minute, func(s stats) bool { return s.ChannelCounts[*channel] >= res.Ready.Connected }); err != nil {
		return err
	}

	api := newAPIConn(t)
	defer api.close()
	path := "/api/channels/" + *channel + "/messages"
	for r := 1; r <= *rounds; r++ {
		rr, err := fanoutOnce(ctx, t, p, api, path, r, *msgs, *payload, res.Ready.Connected, *pause, *roundTimeout)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "round %d: %d/%d delivered, CPU %s per delivery (sched %s), p50 %s p99 %s max %s\n",
			r, rr.Deliveries, rr.Expected, us(rr.PerDelivery), us(rr.PerDeliverySched),
			us(rr.Latency.P50), us(rr.Latency.P99), us(rr.Latency.Max))
		res.Rounds = append(res.Rounds, rr)
	}
	if *jsonOut {
		return printJSON(res)
	}
	printFanout(os.Stdout, res)
	return nil
}

// fanoutOnce runs one round.
func fanoutOnce(ctx context.Context, t *target, p *pool, api *apiConn, path string,
	round, msgs, payload, subscribers int, pause, timeout time.Duration) (fanoutRound, error) {
	rr := fanoutRound{Round: round, Expected: int64(subscribers) * int64(msgs)}
	if _, err := p.request(ctx, command{Cmd: cmdArm, Round: round, Expect: msgs}, evArmed, 30*time.Second); err != nil {
		return rr, err
	}
	if err := sleepUntil(ctx, time.Now().Add(pause)); err != nil {
		return rr, err
	}

	cpu0, err := readCPU(t.pid)
	if err != nil {
		return rr, err
	}
	client0 := p.cpu()
	start := time.Now()
	body := make([]byte, 0, payload+128)
	for seq := range msgs {
		body = fanoutBody(body[:0], round, seq, payload)
		status, answer, err := api.post(path, body)
		if err != nil {
			return rr, fmt.Errorf("POST %s: %w", path, err)
		}
		if status != 200 {
			return rr, fmt.Errorf("POST %s: status %d: %s", path, status, truncate(answer, 200))
		}
		var d struct{ Delivered int64 }
		if json.Unmarshal(answer, &d) == nil {
			rr.Accepted += d.Delivered
		}
	}
	rr.Send = time.Since(start)

	_, waitErr := p.collectRound(ctx, evDone, round, timeout)
	cpu1, err := readCPU(t.pid)
	if err != nil {
		return rr, err
	}
	rr.ClientCPU = p.cpu() - client0
	end := time.Now()
	rr.TimedOut = waitErr != nil

	evs, err := p.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second)
	if err != nil {
		return rr, err
	}
	lat := newHistogram()
	var last int64
	for _, e := range evs {
		rr.Deliveries += e.Received
		rr.Duplicates += e.Duplicates
		rr.Reordered += e.Reordered
		rr.Stray += e.Stray
		last = max(last, e.LastUnixNs)
		if e.Latency != nil {
			lat.merge(*e.Latency)
		}
	}
	rr.Loss = rr.Expected - rr.Deliveries
	rr.Window = end.Sub(start)
	if last > 0 && !rr.TimedOut {
		rr.Window = time.Duration(last - start.UnixNano())
	}
	cpu := cpu1.sub(cpu0)
	rr.CPU, rr.CPUSched = cpu.Stat, cpu.SchedStat
	if rr.Deliveries > 0 {
		rr.PerDelivery = cpu.Stat / time.Duration(rr.Deliveries)
		rr.PerDeliverySched = cpu.SchedStat / time.Duration(rr.Deliveries)
	}
	rr.Latency = lat.summary()
	return rr, nil
}

// fanoutBody appends a channel message: round, seq, send time, and padding
// up to about size bytes. The send time is taken here, just before the POST.
func fanoutBody(b []byte, round, seq, size int) []byte {
	b = append(b, `{"type":"bench","round":`...)
	b = strconv.AppendInt(b, int64(round), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `,"pad":"`...)
	if n := size - len(b) - 40; n > 0 {
		b = append(b, strings.Repeat("x", n)...)
	}
	b = append(b, `","sentNs":`...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	return append(b, '}')
}

func printFanout(w io.Writer, res *fanoutResult) {
	fmt.Fprintf(w, "fan-out: %d subscribers (%d connected), %d messages of ~%d bytes per round\n\n",
		res.Subscribers, res.Ready.Connected, res.Messages, res.PayloadSize)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tdeliveries\tloss\tdup\treord\tsend\twindow\tclient CPU\tCPU\tCPU/delivery\tsched/delivery\tp50\tp90\tp99\tmax\t")
	for _, r := range res.Rounds {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Round, r.Deliveries, r.Loss, r.Duplicates, r.Reordered, us(r.Send), us(r.Window), us(r.ClientCPU),
			us(r.CPU), us(r.PerDelivery), us(r.PerDeliverySched),
			us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.Max))
	}
	tw.Flush()
	pick := func(f func(fanoutRound) time.Duration) (best, median, worst time.Duration) {
		var v []time.Duration
		for _, r := range res.Rounds {
			v = append(v, f(r))
		}
		slices.Sort(v)
		return v[0], v[len(v)/2], v[len(v)-1]
	}
	fmt.Fprintln(w)
	for _, m := range []struct {
		name string
		f    func(fanoutRound) time.Duration
	}{
		{"CPU/delivery (stat)", func(r fanoutRound) time.Duration { return r.PerDelivery }},
		{"CPU/delivery (schedstat)", func(r fanoutRound) time.Duration { return r.PerDeliverySched }},
		{"latency p50", func(r fanoutRound) time.Duration { return r.Latency.P50 }},
		{"latency p99", func(r fanoutRound) time.Duration { return r.Latency.P99 }},
		{"latency max", func(r fanoutRound) time.Duration { return r.Latency.Max }},
	} {
		b, md, wo := pick(m.f)
		fmt.Fprintf(w, "%-26s best %s  median %s  worst %s\n", m.name, us(b), us(md), us(wo))
	}
	var loss int64
	for _, r := range res.Rounds {
		loss += r.Loss + r.Duplicates
	}
	fmt.Fprintf(w, "%-26s %d\n", "lost or repeated, all rounds", loss)
}
