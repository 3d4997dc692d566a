package main

import (
	"strconv"
	"time"
)

// The coordinator and its workers talk in JSON lines: the coordinator writes a
// job and then commands to a worker's standard input; the worker writes events
// to its standard output. Standard error is the worker's log.

// Worker modes: what a worker's connections do once connected.
const (
	modeIdle   = "idle"   // authenticate, then only answer pings
	modeFanout = "fanout" // authenticate, subscribe, time every channel message
	modeNotify = "notify" // authenticate, time every notification:new
	modeTopic  = "topic"  // authenticate, time every notification:new, keep the newest unread count
	modeRaw    = "raw"    // upgrade only (the wslib mini servers), then answer pings
	modeChurn  = "churn"  // no connections at start; Count loops of connect/disconnect attempts on cmdChurn (churn.go)
)

// job is the first line a worker reads: the connections it opens.
type job struct {
	Worker int    `json:"worker"` // index, for logs
	Mode   string `json:"mode"`
	URL    string `json:"url"` // ws://host:port/path
	// URLs, when set, replaces URL: connection i dials URLs[i mod len], the
	// nodes of a cluster in turn, and the worker counts by node.
	URLs       []string `json:"urls,omitempty"`
	JWTSecret  string   `json:"jwtSecret,omitempty"`
	UserPrefix string   `json:"userPrefix"` // user i is UserPrefix + i
	First      int      `json:"first"`      // global index of the first connection
	Count      int      `json:"count"`
	Channel    string   `json:"channel,omitempty"`
	// Channels, above 1, spreads the connections over that many channels:
	// connection i joins Channel-(i mod Channels).
	Channels    int           `json:"channels,omitempty"`
	Concurrency int           `json:"concurrency"` // handshakes in flight
	DialTimeout time.Duration `json:"dialTimeout"`
	// Lifetime bounds the worker: it exits after this long whatever happens.
	Lifetime time.Duration `json:"lifetime"`
	// Transport "sse" makes connections GET /sse streams (sseclient.go)
	// instead of WebSockets; "" is the WebSocket.
	Transport string `json:"transport,omitempty"`
	// Proto "centrifugo" makes connections speak Centrifugo's JSON protocol
	// (centrifugo.go): the token goes in a connect command, not the URL.
	Proto string `json:"proto,omitempty"`
	// NoSubscribe keeps fan-out connections off Channel: they count the
	// messages sent to their user (versus's unicast workload).
	NoSubscribe bool `json:"noSubscribe,omitempty"`
	// ChurnDuration is how long the loops of a churn job start attempts.
	ChurnDuration time.Duration `json:"churnDuration,omitempty"`
}

// channelOf names the channel connection idx joins.
func (j *job) channelOf(idx int) string { return channelName(j.Channel, j.Channels, idx) }

// channelName is channel i of n named after base: base itself when n is 1.
func channelName(base string, n, i int) string {
	if n <= 1 {
		return base
	}
	return base + "-" + strconv.Itoa(i%n)
}

// Commands a worker accepts after its job.
const (
	cmdArm    = "arm"    // start a fan-out round: reset counters, expect Expect messages per connection
	cmdReport = "report" // send a report event with the counters so far
	cmdStop   = "stop"   // close every connection and exit
	cmdChurn  = "churn"  // churn job: run the attempt loops, then send a churned event
)

type command struct {
	Cmd    string `json:"cmd"`
	Round  int    `json:"round,omitempty"`
	Expect int    `json:"expect,omitempty"`
}

// Events a worker sends.
const (
	evReady   = "ready"   // every connection is established (or failed)
	evArmed   = "armed"   // a round is armed
	evDone    = "done"    // every connection received the round's messages
	evReport  = "report"  // counters and latencies, on request
	evFatal   = "fatal"   // the worker cannot go on
	evChurned = "churned" // a churn job's loops ended: its counts
)

type event struct {
	Event  string `json:"event"`
	Worker int    `json:"worker"`

	// ready
	Connected int            `json:"connected,omitempty"`
	Failed    int            `json:"failed,omitempty"`
	Errors    map[string]int `json:"errors,omitempty"` // failure reason → count
	Took      time.Duration  `json:"took,omitempty"`
	// NodeConnected counts the connections by node of job.URLs.
	NodeConnected []int `json:"nodeConnected,omitempty"`

	// done and report
	Round      int       `json:"round,omitempty"`
	LastUnixNs int64     `json:"lastUnixNs,omitempty"` // when the last expected message arrived
	Received   int64     `json:"received,omitempty"`   // messages counted this round
	Duplicates int64     `json:"duplicates,omitempty"` // seq seen twice on a connection
	Reordered  int64     `json:"reordered,omitempty"`  // arrived after a greater seq on its connection
	Stray      int64     `json:"stray,omitempty"`      // messages of another round, seq out of range, or unparseable
	Dropped    int       `json:"dropped,omitempty"`    // connections closed by the server since ready
	Complete   int       `json:"complete,omitempty"`   // connections that got every expected message
	Exact      int       `json:"exact,omitempty"`      // topic: connections whose newest count is the round's expectation
	Latency    *histData `json:"latency,omitempty"`
	// By node of job.URLs: messages counted and their latencies.
	NodeReceived []int64    `json:"nodeReceived,omitempty"`
	NodeLatency  []histData `json:"nodeLatency,omitempty"`

	// churned
	Churn *churnCounts `json:"churn,omitempty"`

	Error string `json:"error,omitempty"`
}

// url is the address connection idx dials.
func (j *job) url(idx int) string {
	if len(j.URLs) == 0 {
		return j.URL
	}
	return j.URLs[j.node(idx)]
}

// node is the index in URLs of the node connection idx dials: subscribers go
// round-robin over the nodes.
func (j *job) node(idx int) int {
	if len(j.URLs) == 0 {
		return 0
	}
	return idx % len(j.URLs)
}
