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
// a channel and their receipt by every subscriber, on one node or several.
type fanoutRound struct {
	Round      int     `json:"round"`
	LoadAvg    float64 `json:"loadAvg"`    // one-minute load average as the round started
	Expected   int64   `json:"expected"`   // subscribers × messages
	Deliveries int64   `json:"deliveries"` // distinct messages received
	Loss       int64   `json:"loss"`
	Duplicates int64   `json:"duplicates"`
	Reordered  int64   `json:"reordered"` // received after a message with a greater seq
	Stray      int64   `json:"stray"`
	// Accepted is the sum of the server's {"delivered":N} answers. A cluster
	// node counts only its own subscribers there.
	Accepted int64 `json:"accepted"`
	TimedOut bool  `json:"timedOut"`

	Send   time.Duration `json:"send"`   // first POST to last answer
	Window time.Duration `json:"window"` // first POST to last receipt
	// PerSecond is the throughput: deliveries ÷ window;
	// MessagesPerSecond the messages sent ÷ window.
	PerSecond         float64 `json:"deliveriesPerSecond"`
	MessagesPerSecond float64 `json:"messagesPerSecond"`
	// CPU is the servers' CPU time over the window, summed over the nodes;
	// PerDelivery divides the /proc/PID/stat figure (10 ms ticks) by the
	// deliveries, PerDeliverySched the per-thread schedstat figure
	// (nanoseconds).
	CPU              time.Duration  `json:"cpu"`
	CPUSched         time.Duration  `json:"cpuSched"`
	PerDelivery      time.Duration  `json:"perDelivery"`
	PerDeliverySched time.Duration  `json:"perDeliverySched"`
	Latency          latencySummary `json:"latency"`
	// ClientCPU is the workers' CPU time over the window: the load
	// generator's share of the two cores.
	ClientCPU time.Duration `json:"clientCpu"`
	// RedisCPU is the redis-servers' CPU time over the window (--redis-pid,
	// summed), from their threads' schedstat; RedisPerMessage divides it by
	// the messages sent.
	RedisCPU        time.Duration `json:"redisCpu,omitempty"`
	RedisPerMessage time.Duration `json:"redisCpuPerMessage,omitempty"`
	// RedisIdle is the redis-servers' CPU per second of the quiet pause
	// before the round (background work: cron, gossip, probes), and
	// RedisNetPerMessage the round's Redis CPU minus that rate over the
	// window, per message.
	RedisIdle          time.Duration `json:"redisIdleCpuPerSecond,omitempty"`
	RedisNetPerMessage time.Duration `json:"redisNetCpuPerMessage,omitempty"`
	// Nodes splits the round by node: each node's subscribers, what they
	// received, and the node's CPU per delivery to them.
	Nodes []fanoutNode `json:"nodes"`
}

// fanoutNode is one node's share of a round.
type fanoutNode struct {
	Node        int    `json:"node"`
	Addr        string `json:"addr"`
	PID         int    `json:"pid"`
	Subscribers int    `json:"subscribers"`
	Expected    int64  `json:"expected"`
	Deliveries  int64  `json:"deliveries"`
	Loss        int64  `json:"loss"`
	// CPU is the node's CPU time over the window; PerDelivery divides it by
	// the deliveries to the node's own subscribers. The node the POSTs go
	// through also serves the HTTP API and publishes to Redis.
	CPU              time.Duration  `json:"cpu"`
	CPUSched         time.Duration  `json:"cpuSched"`
	PerDelivery      time.Duration  `json:"perDelivery"`
	PerDeliverySched time.Duration  `json:"perDeliverySched"`
	Latency          latencySummary `json:"latency"`
}

// fanoutResult is a whole fan-out run.
type fanoutResult struct {
	Subscribers int           `json:"subscribers"`
	Messages    int           `json:"messages"`
	Channels    int           `json:"channels"`
	PayloadSize int           `json:"payloadBytes"`
	Nodes       []string      `json:"nodes"`   // node addresses, in index order
	SendVia     string        `json:"sendVia"` // the node the POSTs go through, or rotate
	Ready       readySummary  `json:"ready"`
	Rounds      []fanoutRound `json:"rounds"`
}

// fanoutOptions are the fanout command's flags.
type fanoutOptions struct {
	sf           serverFlags
	lf           loadFlags
	cf           clusterFlags
	subs         int
	msgs         int
	rounds       int
	channel      string
	channels     int
	payload      int
	pause        time.Duration
	roundTimeout time.Duration
	json         bool
	keep         bool
}

func runFanout(ctx context.Context, args []string) error {
	o, err := parseFanout(args)
	if err != nil {
		return err
	}
	res, err := measureFanout(ctx, o)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(res)
	}
	printFanout(os.Stdout, res)
	return nil
}

// parseFanout reads and checks the fanout command's flags.
func parseFanout(args []string) (*fanoutOptions, error) {
	fs := flag.NewFlagSet("herald-bench fanout", flag.ContinueOnError)
	o := &fanoutOptions{}
	o.sf.register(fs)
	o.lf.register(fs)
	o.cf.register(fs)
	fs.IntVar(&o.subs, "subscribers", 5000, "connections subscribed to the channel (unique users), over all nodes")
	fs.IntVar(&o.msgs, "messages", 100, "messages per round, sent back to back (each POST after the previous answer)")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds on the same connections; each is reported, then the best and the spread")
	fs.StringVar(&o.channel, "channel", "bench", "channel name")
	fs.IntVar(&o.channels, "channels", 1, "channels the subscribers are spread over: connection i joins <channel>-<i mod channels>, "+
		"message i goes to channel i mod channels (on Redis Cluster, channels spread over the shards); --messages must be a multiple")
	fs.IntVar(&o.payload, "payload", 128, "approximate size of each message body in bytes")
	fs.DurationVar(&o.pause, "pause", 2*time.Second, "quiet time before each round, so the window holds only the round's work")
	fs.DurationVar(&o.roundTimeout, "round-timeout", time.Minute, "bound on one round; missing deliveries after it count as lost")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	fs.BoolVar(&o.keep, "keep", false, "keep the started servers' directories (log, database)")
	fs.Usage = commandUsage(fs, `fanout: server CPU per delivery and delivery latency of channel sends.

Opens --subscribers connections that join one channel, then, per round, sends
--messages messages back to back through POST /api/channels/{channel}/messages.
Each body carries its round, a sequence number and its send time in Unix
nanoseconds; every worker records receipt time minus send time for every
delivery (same machine, same clock) and checks that no message is lost,
repeated or reordered. Server CPU per delivery is the growth of utime+stime in
/proc/PID/stat from just before the first POST to the last receipt, divided
by the deliveries.

Several nodes: --nodes N starts N Herald nodes on one PostgreSQL
(--database-url) and one Redis (--redis-url), with the same secrets and
HERALD_NODE_ID bench-<run>-<i>; --addrs a,b,c with one --server-pid per node
attaches to running ones instead. Connection i goes to node i mod N, the POSTs
go through --send-via, and every figure is reported in total and per node:
a node's CPU per delivery is its CPU time divided by the deliveries to its own
subscribers. --redis-pid adds the CPU time of the redis-server processes
given, and their CPU per message.

--redis-url takes every REDIS_URL form: redis://, redis-sentinel:// and
redis-cluster://. On Redis Cluster each channel is a sharded channel on the
shard its slot falls in; --channels N spreads the subscribers and the
messages over N channels, and so over the shards.

Example, three nodes:
  herald-bench fanout --server-bin /tmp/herald --nodes 3 \
    --database-url postgres://postgres@127.0.0.1:55432/hb?sslmode=disable \
    --redis-url redis://127.0.0.1:56379/0 --redis-pid $(pidof redis-server) \
    --subscribers 15000 --messages 100 --rounds 3

Three nodes on a Redis Cluster of three shards, messages over 30 channels:
  herald-bench fanout --server-bin /tmp/herald --nodes 3 --database-url ... \
    --redis-url redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 \
    --redis-pid $(pidof redis-server | tr ' ' ,) --channels 30 --messages 300`)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.subs <= 0 || o.msgs <= 0 || o.rounds <= 0 || o.channels <= 0 {
		return nil, fmt.Errorf("--subscribers, --messages, --rounds and --channels must be positive")
	}
	if o.msgs%o.channels != 0 || o.subs < o.channels {
		return nil, fmt.Errorf("--messages must be a multiple of --channels, and --subscribers at least --channels")
	}
	n, err := checkNodes(&o.sf, &o.cf)
	if err != nil {
		return nil, err
	}
	if _, err := parseSendVia(o.cf.sendVia, n); err != nil {
		return nil, err
	}
	return o, nil
}

// measureFanout starts or attaches to the nodes, opens the subscribers and
// runs the rounds.
func measureFanout(ctx context.Context, o *fanoutOptions) (*fanoutResult, error) {
	n, err := checkNodes(&o.sf, &o.cf)
	if err != nil {
		return nil, err
	}
	plan, err := parseSendVia(o.cf.sendVia, n)
	if err != nil {
		return nil, err
	}
	for _, pid := range o.cf.redisPids {
		if !alive(pid) {
			return nil, fmt.Errorf("--redis-pid: no process %d", pid)
		}
	}
	nodes, err := startOrAttachNodes(ctx, &o.sf, &o.cf, (o.subs+n-1)/n+1000)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes, o.keep)

	base := job{Mode: modeFanout, URL: nodes[0].wsURL(), JWTSecret: nodes[0].jwtSecret, UserPrefix: userPrefix(), Channel: o.channel, Channels: o.channels,
		Lifetime: o.lf.connectTime + time.Duration(o.rounds)*(o.roundTimeout+o.pause+time.Minute)}
	if len(nodes) > 1 {
		base.URLs = wsURLs(nodes)
	}
	p, err := startPool(base, o.subs, o.lf)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	res := &fanoutResult{Subscribers: o.subs, Messages: o.msgs, Channels: o.channels, PayloadSize: o.payload, SendVia: plan.String()}
	for _, t := range nodes {
		res.Nodes = append(res.Nodes, t.addr)
	}
	if res.Ready, err = p.awaitReady(ctx, o.lf.connectTime); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "fanout: %s\n", res.Ready)
	if res.Ready.Connected == 0 {
		return nil, fmt.Errorf("no connection could be opened: %v", res.Ready.Errors)
	}
	// In a cluster any node's stats are the cluster's, from the nodes'
	// heartbeats.
	if _, err := nodes[0].waitStats(ctx, time.Minute, func(s stats) bool {
		n := 0
		for i := range o.channels {
			n += s.ChannelCounts[channelName(o.channel, o.channels, i)]
		}
		return n >= res.Ready.Connected
	}); err != nil {
		return nil, err
	}

	r := &fanoutRun{nodes: nodes, pool: p, plan: plan,
		msgs: o.msgs, payload: o.payload, ready: res.Ready, redisPids: o.cf.redisPids, pause: o.pause, timeout: o.roundTimeout}
	for i := range o.channels {
		r.paths = append(r.paths, "/api/channels/"+channelName(o.channel, o.channels, i)+"/messages")
	}
	for _, t := range nodes {
		r.apis = append(r.apis, newAPIConn(t))
	}
	defer func() {
		for _, a := range r.apis {
			a.close()
		}
	}()
	for round := 1; round <= o.rounds; round++ {
		rr, err := r.once(ctx, round)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "round %d: %d/%d delivered, CPU %s per delivery (sched %s), p50 %s p99 %s max %s\n",
			round, rr.Deliveries, rr.Expected, us(rr.PerDelivery), us(rr.PerDeliverySched),
			us(rr.Latency.P50), us(rr.Latency.P99), us(rr.Latency.Max))
		if len(nodes) > 1 {
			for _, n := range rr.Nodes {
				fmt.Fprintf(os.Stderr, "  node %d: %d/%d delivered, CPU %s per delivery, p50 %s p99 %s\n",
					n.Node, n.Deliveries, n.Expected, us(n.PerDeliverySched), us(n.Latency.P50), us(n.Latency.P99))
			}
		}
		res.Rounds = append(res.Rounds, rr)
	}
	return res, nil
}

// fanoutRun is what the rounds of a fan-out run share.
type fanoutRun struct {
	nodes     []*target
	apis      []*apiConn // one per node
	plan      sendPlan
	pool      *pool
	paths     []string // one per channel
	msgs      int
	payload   int
	ready     readySummary
	redisPids []int
	pause     time.Duration
	timeout   time.Duration
}

// nodeSubscribers returns the connections open on each node.
func (r *fanoutRun) nodeSubscribers() []int {
	if len(r.nodes) == 1 {
		return []int{r.ready.Connected}
	}
	out := make([]int, len(r.nodes))
	copy(out, r.ready.NodeConnected)
	return out
}

// cpu reads the CPU time of every node.
func (r *fanoutRun) cpu() ([]cpuTimes, error) {
	out := make([]cpuTimes, len(r.nodes))
	for i, t := range r.nodes {
		c, err := readCPU(t.pid)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		out[i] = c
	}
	return out, nil
}

// redisCPU reads the redis-servers' CPU time, zero when it is not measured:
// the sum of their threads' schedstat, since Redis spends a few milliseconds
// per round, below the 10 ms ticks of /proc/PID/stat.
func (r *fanoutRun) redisCPU() time.Duration {
	var sum time.Duration
	for _, pid := range r.redisPids {
		c, _ := readCPU(pid)
		sum += c.SchedStat
	}
	return sum
}

// once runs one round.
func (r *fanoutRun) once(ctx context.Context, round int) (fanoutRound, error) {
	// Each connection gets the messages of its channel.
	perConn := r.msgs / len(r.paths)
	rr := fanoutRound{Round: round, Expected: int64(r.ready.Connected) * int64(perConn)}
	if _, err := r.pool.request(ctx, command{Cmd: cmdArm, Round: round, Expect: perConn}, evArmed, 30*time.Second); err != nil {
		return rr, err
	}
	// Redis's CPU while nothing is sent (cron, a cluster's gossip, the
	// nodes' probes and heartbeats), to tell the messages' share.
	idle0, idleStart := r.redisCPU(), time.Now()
	if err := sleepUntil(ctx, time.Now().Add(r.pause)); err != nil {
		return rr, err
	}
	idleCPU, idleTime := r.redisCPU()-idle0, time.Since(idleStart)

	// A keep-alive connection idle since the last round may have been closed
	// by the server meanwhile: dial afresh, outside the measured window.
	for _, a := range r.apis {
		a.close()
		if err := a.dial(); err != nil {
			return rr, fmt.Errorf("API connection to %s: %w", a.addr, err)
		}
	}
	rr.LoadAvg = loadAverage()
	cpu0, err := r.cpu()
	if err != nil {
		return rr, err
	}
	redis0 := r.redisCPU()
	client0 := r.pool.cpu()
	start := time.Now()
	body := make([]byte, 0, r.payload+128)
	for seq := range r.msgs {
		// The body's seq counts within the message's channel.
		path := r.paths[seq%len(r.paths)]
		body = fanoutBody(body[:0], round, seq/len(r.paths), r.payload)
		api := r.apis[r.plan.via(seq, len(r.nodes))]
		status, answer, err := api.post(path, body)
		if err != nil {
			return rr, fmt.Errorf("POST %s to %s: %w", path, api.addr, err)
		}
		if status != 200 {
			return rr, fmt.Errorf("POST %s to %s: status %d: %s", path, api.addr, status, truncate(answer, 200))
		}
		var d struct{ Delivered int64 }
		if json.Unmarshal(answer, &d) == nil {
			rr.Accepted += d.Delivered
		}
	}
	rr.Send = time.Since(start)

	_, waitErr := r.pool.collectRound(ctx, evDone, round, r.timeout)
	cpu1, err := r.cpu()
	if err != nil {
		return rr, err
	}
	if len(r.redisPids) > 0 {
		rr.RedisCPU = r.redisCPU() - redis0
		rr.RedisPerMessage = rr.RedisCPU / time.Duration(r.msgs)
		if idleTime > 0 {
			rr.RedisIdle = time.Duration(float64(idleCPU) / idleTime.Seconds())
		}
	}
	rr.ClientCPU = r.pool.cpu() - client0
	end := time.Now()
	rr.TimedOut = waitErr != nil

	evs, err := r.pool.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second)
	if err != nil {
		return rr, err
	}
	lat := newHistogram()
	nodeLat := make([]*histogram, len(r.nodes))
	for i := range nodeLat {
		nodeLat[i] = newHistogram()
	}
	subs := r.nodeSubscribers()
	rr.Nodes = make([]fanoutNode, len(r.nodes))
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
		for i := range min(len(e.NodeReceived), len(r.nodes)) {
			rr.Nodes[i].Deliveries += e.NodeReceived[i]
		}
		for i := range min(len(e.NodeLatency), len(r.nodes)) {
			nodeLat[i].merge(e.NodeLatency[i])
		}
	}
	rr.Loss = rr.Expected - rr.Deliveries
	rr.Window = end.Sub(start)
	if last > 0 && !rr.TimedOut {
		rr.Window = time.Duration(last - start.UnixNano())
	}
	if rr.Window > 0 {
		rr.PerSecond = float64(rr.Deliveries) / rr.Window.Seconds()
		rr.MessagesPerSecond = float64(r.msgs) / rr.Window.Seconds()
		idle := time.Duration(float64(rr.RedisIdle) * rr.Window.Seconds())
		rr.RedisNetPerMessage = max(rr.RedisCPU-idle, 0) / time.Duration(r.msgs)
	}
	rr.Latency = lat.summary()
	for i, t := range r.nodes {
		nr := &rr.Nodes[i]
		nr.Node, nr.Addr, nr.PID, nr.Subscribers = i, t.addr, t.pid, subs[i]
		nr.Expected = int64(subs[i]) * int64(perConn)
		nr.Latency = nodeLat[i].summary()
		if len(r.nodes) == 1 { // the workers split nothing
			nr.Deliveries, nr.Latency = rr.Deliveries, rr.Latency
		}
		nr.Loss = nr.Expected - nr.Deliveries
		cpu := cpu1[i].sub(cpu0[i])
		nr.CPU, nr.CPUSched = cpu.Stat, cpu.SchedStat
		if nr.Deliveries > 0 {
			nr.PerDelivery = cpu.Stat / time.Duration(nr.Deliveries)
			nr.PerDeliverySched = cpu.SchedStat / time.Duration(nr.Deliveries)
		}
		rr.CPU += nr.CPU
		rr.CPUSched += nr.CPUSched
	}
	if rr.Deliveries > 0 {
		rr.PerDelivery = rr.CPU / time.Duration(rr.Deliveries)
		rr.PerDeliverySched = rr.CPUSched / time.Duration(rr.Deliveries)
	}
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
	multi := len(res.Nodes) > 1
	fmt.Fprintf(w, "fan-out: %d subscribers (%d connected) over %d channel(s), %d messages of ~%d bytes per round\n",
		res.Subscribers, res.Ready.Connected, max(res.Channels, 1), res.Messages, res.PayloadSize)
	if multi {
		fmt.Fprintf(w, "%d nodes %s, subscribers by node %v, sent through %s\n",
			len(res.Nodes), strings.Join(res.Nodes, " "), res.Ready.NodeConnected, res.SendVia)
	}
	fmt.Fprintln(w)
	redis := false
	for _, r := range res.Rounds {
		redis = redis || r.RedisCPU > 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "round\tload\tdeliveries\tloss\tdup\treord\tsend\twindow\tmessages/s\tdeliveries/s\tclient CPU\tCPU\tCPU/delivery\tsched/delivery\tp50\tp90\tp99\tmax\t"
	if redis {
		head += "redis CPU\tredis/msg\tidle/s\tnet/msg\t"
	}
	fmt.Fprintln(tw, head)
	for _, r := range res.Rounds {
		fmt.Fprintf(tw, "%d\t%.2f\t%d\t%d\t%d\t%d\t%s\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t",
			r.Round, r.LoadAvg, r.Deliveries, r.Loss, r.Duplicates, r.Reordered, us(r.Send), us(r.Window), r.MessagesPerSecond, r.PerSecond, us(r.ClientCPU),
			us(r.CPU), us(r.PerDelivery), us(r.PerDeliverySched),
			us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.Max))
		if redis {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t", us(r.RedisCPU), us(r.RedisPerMessage), us(r.RedisIdle), us(r.RedisNetPerMessage))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if multi {
		fmt.Fprintln(w, "\nby node (CPU/delivery: the node's CPU over the deliveries to its own subscribers)")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "round\tnode\tsubscribers\tdeliveries\tloss\tCPU\tCPU/delivery\tsched/delivery\tp50\tp90\tp99\tmax\t")
		for _, r := range res.Rounds {
			for _, n := range r.Nodes {
				fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
					r.Round, n.Node, n.Subscribers, n.Deliveries, n.Loss, us(n.CPU), us(n.PerDelivery), us(n.PerDeliverySched),
					us(n.Latency.P50), us(n.Latency.P90), us(n.Latency.P99), us(n.Latency.Max))
			}
		}
		tw.Flush()
	}
	pick := func(f func(fanoutRound) time.Duration) (best, median, worst time.Duration) {
		var v []time.Duration
		for _, r := range res.Rounds {
			v = append(v, f(r))
		}
		slices.Sort(v)
		return v[0], v[len(v)/2], v[len(v)-1]
	}
	fmt.Fprintln(w)
	type metric struct {
		name string
		f    func(fanoutRound) time.Duration
	}
	metrics := []metric{
		{"CPU/delivery (stat)", func(r fanoutRound) time.Duration { return r.PerDelivery }},
		{"CPU/delivery (schedstat)", func(r fanoutRound) time.Duration { return r.PerDeliverySched }},
	}
	if multi {
		for i := range res.Nodes {
			metrics = append(metrics, metric{fmt.Sprintf("  node %d (schedstat)", i),
				func(r fanoutRound) time.Duration { return r.Nodes[i].PerDeliverySched }})
		}
	}
	if redis {
		metrics = append(metrics, metric{"redis CPU/message", func(r fanoutRound) time.Duration { return r.RedisPerMessage }},
			metric{"redis net CPU/message", func(r fanoutRound) time.Duration { return r.RedisNetPerMessage }})
	}
	metrics = append(metrics,
		metric{"latency p50", func(r fanoutRound) time.Duration { return r.Latency.P50 }},
		metric{"latency p99", func(r fanoutRound) time.Duration { return r.Latency.P99 }},
		metric{"latency max", func(r fanoutRound) time.Duration { return r.Latency.Max }})
	for _, m := range metrics {
		b, md, wo := pick(m.f)
		fmt.Fprintf(w, "%-26s best %s  median %s  worst %s\n", m.name, us(b), us(md), us(wo))
	}
	var mps, dps []float64
	for _, r := range res.Rounds {
		mps, dps = append(mps, r.MessagesPerSecond), append(dps, r.PerSecond)
	}
	slices.Sort(mps)
	slices.Sort(dps)
	fmt.Fprintf(w, "%-26s median %.0f (deliveries/s median %.0f)\n", "messages/s", mps[len(mps)/2], dps[len(dps)/2])
	var loss, reordered int64
	for _, r := range res.Rounds {
		loss += r.Loss + r.Duplicates
		reordered += r.Reordered
	}
	fmt.Fprintf(w, "%-26s %d\n", "lost or repeated, all rounds", loss)
	fmt.Fprintf(w, "%-26s %d\n", "reordered, all rounds", reordered)
}
