package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// topicRound is one notification sent to the topic.
type topicRound struct {
	Round   int            `json:"round"`
	Members int            `json:"members"`  // the send's member count
	Accept  time.Duration  `json:"accept"`   // POST to its 202
	Stored  time.Duration  `json:"stored"`   // POST to the send's status "done": every copy committed
	Online  time.Duration  `json:"online"`   // POST to the last online member's receipt
	Exact   time.Duration  `json:"exact"`    // POST to every online member holding the exact count
	Recv    int64          `json:"received"` // notification:new received by the online members
	ExactN  int            `json:"exactCounts"`
	CPU     time.Duration  `json:"cpu"`           // server CPU from the POST to the end
	PerCopy time.Duration  `json:"cpuPerCopy"`    // CPU divided by the members
	Latency latencySummary `json:"postToReceipt"` // over the online members
}

// topicResult is a whole topic run.
type topicResult struct {
	Store      string        `json:"store"`
	Members    int           `json:"members"`
	Online     int           `json:"online"`
	Chunk      string        `json:"chunk"`
	AddMembers time.Duration `json:"addMembers"` // time to add every member
	Ready      readySummary  `json:"ready"`
	Rounds     []topicRound  `json:"rounds"`
}

func runTopic(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench topic", flag.ContinueOnError)
	var sf serverFlags
	var lf loadFlags
	sf.register(fs)
	lf.register(fs)
	members := fs.Int("members", 100000, "members of the topic")
	online := fs.Int("online", 5000, "members with a connected client (the first ones)")
	rounds := fs.Int("rounds", 3, "notifications sent to the topic, one per round")
	pause := fs.Duration("pause", 2*time.Second, "quiet time before each round")
	timeout := fs.Duration("round-timeout", 5*time.Minute, "bound on one round")
	jsonOut := fs.Bool("json", false, "print the result as JSON on stdout")
	keep := fs.Bool("keep", false, "keep the started server's directory (log, database)")
	fs.Usage = commandUsage(fs, `topic: a notification to a topic of many members, persisted and delivered.

Connects --online clients (the first members), adds --members members to one
topic (PUT /api/topics/{topic}/members, 10,000 per request), then each round
posts one notification to the topic (POST /api/topics/{topic}/notifications,
answered 202 once the send is stored) and measures: the time until every
member's copy is committed (the send's status turns "done"), until every
online member has received it, and until every online member holds the exact
unread count (the round number: each round adds one copy per member), as the
clients keep counts: the one of the greatest version. The server uses SQLite
unless --database-url is given; --server-env HERALD_TOPIC_CHUNK=N sets the
fan-out's chunk.`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *members <= 0 || *online < 0 || *online > *members || *rounds <= 0 {
		return fmt.Errorf("--members and --rounds must be positive, and --online at most --members")
	}
	t, err := startOrAttach(ctx, &sf, *online+1000)
	if err != nil {
		return err
	}
	defer t.stop(*keep)
	base := job{Mode: modeTopic, URL: t.wsURL(), JWTSecret: t.jwtSecret, UserPrefix: userPrefix(),
		Lifetime: lf.connectTime + 10*time.Minute + time.Duration(*rounds)*(*timeout+*pause)}
	res := &topicResult{Store: "sqlite", Members: *members, Online: *online, Chunk: "default"}
	for _, kv := range sf.env {
		if v, ok := strings.CutPrefix(kv, "HERALD_TOPIC_CHUNK="); ok {
			res.Chunk = v
		}
	}
	if sf.databaseURL != "" {
		res.Store = "postgresql"
	}
	var p *pool
	if *online > 0 {
		if p, err = startPool(base, *online, lf); err != nil {
			return err
		}
		defer p.stop()
		if res.Ready, err = p.awaitReady(ctx, lf.connectTime); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "topic: %s\n", res.Ready)
		if res.Ready.Failed > 0 {
			return fmt.Errorf("every online member needs its client connected: %s", res.Ready)
		}
	}

	const topic = "bench-topic"
	api := newAPIConn(t)
	defer api.close()
	start := time.Now()
	for i := 0; i < *members; i += 10000 {
		var b strings.Builder
		b.WriteByte('[')
		for u := i; u < min(i+10000, *members); u++ {
			if u > i {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(base.UserPrefix + strconv.Itoa(u)))
		}
		b.WriteByte(']')
		status, body, err := api.do("PUT", "/api/topics/"+topic+"/members", []byte(b.String()))
		if err != nil || status != 200 {
			return fmt.Errorf("adding members: %d %s %v", status, truncate(body, 200), err)
		}
	}
	res.AddMembers = time.Since(start)
	fmt.Fprintf(os.Stderr, "topic: %d members added in %s\n", *members, res.AddMembers.Round(time.Millisecond))

	for r := 1; r <= *rounds; r++ {
		rr, err := topicOnce(ctx, t, p, api, topic, r, *online, *pause, *timeout)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "round %d: %d members stored in %s, %d online received in %s, exact counts in %s\n",
			r, rr.Members, rr.Stored.Round(time.Millisecond), rr.Recv, rr.Online.Round(time.Millisecond), rr.Exact.Round(time.Millisecond))
		res.Rounds = append(res.Rounds, rr)
	}
	if *jsonOut {
		return printJSON(res)
	}
	printTopic(os.Stdout, res)
	return nil
}

func topicOnce(ctx context.Context, t *target, p *pool, api *apiConn, topic string, round, online int,
	pause, timeout time.Duration) (topicRound, error) {
	rr := topicRound{Round: round}
	if p != nil {
		if _, err := p.request(ctx, command{Cmd: cmdArm, Round: round, Expect: round}, evArmed, 30*time.Second); err != nil {
			return rr, err
		}
	}
	if err := sleepUntil(ctx, time.Now().Add(pause)); err != nil {
		return rr, err
	}
	cpu0, err := readCPU(t.pid)
	if err != nil {
		return rr, err
	}
	start := time.Now()
	body := fmt.Sprintf(`{"type":"bench","title":"Topic round %d","message":"To every member","data":{"round":%d,"sentNs":%d}}`,
		round, round, start.UnixNano())
	status, answer, err := api.post("/api/topics/"+topic+"/notifications", []byte(body))
	if err != nil || status != 202 {
		return rr, fmt.Errorf("sending to the topic: %d %s %v", status, truncate(answer, 200), err)
	}
	rr.Accept = time.Since(start)
	var send struct {
		ID      string `json:"id"`
		Members int    `json:"members"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal(answer, &send); err != nil {
		return rr, err
	}
	rr.Members = send.Members
	deadline := start.Add(timeout)
	for rr.Stored == 0 || (p != nil && (rr.Online == 0 || rr.Exact == 0)) {
		if time.Now().After(deadline) {
			return rr, fmt.Errorf("round %d: not finished within %s: stored %s, online %s (%d received), exact %s (%d)",
				round, timeout, rr.Stored, rr.Online, rr.Recv, rr.Exact, rr.ExactN)
		}
		if rr.Stored == 0 {
			st, body, err := api.do("GET", "/api/topics/"+topic+"/notifications/"+send.ID, nil)
			if err != nil || st != 200 {
				return rr, fmt.Errorf("progress: %d %s %v", st, truncate(body, 200), err)
			}
			if json.Unmarshal(body, &send) == nil && send.Status == "done" {
				rr.Stored = time.Since(start)
			}
		}
		if p != nil && (rr.Online == 0 || rr.Exact == 0) {
			evs, err := p.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second)
			if err != nil {
				return rr, err
			}
			var got int64
			exact, last := 0, int64(0)
			lat := newHistogram()
			for _, e := range evs {
				got += e.Received
				exact += e.Exact
				last = max(last, e.LastUnixNs)
				if e.Latency != nil {
					lat.merge(*e.Latency)
				}
			}
			rr.Recv, rr.ExactN = got, exact
			if rr.Online == 0 && got >= int64(online) {
				rr.Online = time.Duration(last - start.UnixNano())
				rr.Latency = lat.summary()
			}
			if rr.Exact == 0 && exact >= online {
				rr.Exact = time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	cpu1, err := readCPU(t.pid)
	if err != nil {
		return rr, err
	}
	rr.CPU = cpu1.sub(cpu0).Stat
	if rr.Members > 0 {
		rr.PerCopy = rr.CPU / time.Duration(rr.Members)
	}
	return rr, nil
}

func printTopic(w io.Writer, res *topicResult) {
	fmt.Fprintf(w, "topic: store %s, %d members (added in %s), %d online, chunk %s\n\n",
		res.Store, res.Members, res.AddMembers.Round(time.Millisecond), res.Online, res.Chunk)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tmembers\taccepted\tall stored\tall online received\texact counts\treceived\tserver CPU\tCPU/copy\trecv p50\trecv p99\t")
	for _, r := range res.Rounds {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", r.Round, r.Members, us(r.Accept),
			r.Stored.Round(time.Millisecond), r.Online.Round(time.Millisecond), r.Exact.Round(time.Millisecond),
			r.Recv, r.CPU.Round(time.Millisecond), us(r.PerCopy), us(r.Latency.P50), us(r.Latency.P99))
	}
	tw.Flush()
}
