// Command herald-bench measures a Herald server on one machine: the memory an
// idle authenticated connection costs, the CPU time and latency of a channel
// fan-out, the throughput of persisted notifications, and, for comparison, the
// memory an idle connection costs on bare servers built with three WebSocket
// libraries.
//
//	herald-bench idle    [flags]   RSS per idle authenticated connection
//	herald-bench fanout  [flags]   CPU per delivery and latency of channel sends
//	herald-bench notify  [flags]   notifications per second and POST-to-receipt latency
//	herald-bench wslib   [flags]   RSS per idle connection on coder/websocket, gws, gobwas/ws
//	herald-bench writecost [flags] the kernel's CPU per frame written, by frames per writev
//	herald-bench versus  [flags]   Herald beside Centrifugo: connects, fan-out, unicast, churn
//
// The tool is its own load generator: it re-executes itself as worker
// processes ("herald-bench worker", hidden) that each hold up to a few
// thousand client connections, because one process may open at most 20,000
// file descriptors here; each connection dials from its own loopback source
// address so that the 4-tuple space never runs out. Workers report to this
// coordinating process as JSON lines on their standard output. Every phase is
// bounded in time, and the tool stops the processes it started when it ends.
//
// See BENCHMARKS.md at the repository root for the figures and how they were
// measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// subcommand is one measurement the tool can run.
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
	hidden        bool // internal: started by the tool itself
}

var subcommands = []subcommand{
	{name: "idle", summary: "server RSS per idle authenticated connection", run: runIdle},
	{name: "fanout", summary: "server CPU per delivery and latency of back-to-back channel sends", run: runFanout},
	{name: "notify", summary: "persisted notifications per second and POST-to-receipt latency", run: runNotify},
	{name: "topic", summary: "a notification to a topic of many members: time to store every copy and to reach the members online", run: runTopic},
	{name: "wslib", summary: "RSS per idle connection of minimal coder/websocket, gws and gobwas/ws servers", run: runWSLib},
	{name: "writecost", summary: "CPU floor of a delivery: kernel cost of loopback writes, by frames per writev", run: runWriteCost},
	{name: "versus", summary: "Herald beside Centrifugo in the same run: connects/s, fan-out deliveries/s, unicast sends/s, churn attempts/s; interleaved rounds", run: runVersus},
	{name: "worker", summary: "client worker process (internal)", run: runWorker, hidden: true},
	{name: "wslib-server", summary: "minimal WebSocket server for the wslib comparison (internal)", run: runWSLibServer, hidden: true},
}

func main() {
	raiseFileLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		usage(os.Stdout)
		return
	}
	for _, sc := range subcommands {
		if sc.name != name {
			continue
		}
		err := sc.run(ctx, args)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "herald-bench %s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	usage(os.Stderr)
	fmt.Fprintf(os.Stderr, "\nunknown command %q\n", name)
	os.Exit(2)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `herald-bench: load tool for the Herald server (loopback only).

Usage:
  herald-bench <command> [flags]
  herald-bench <command> --help     flags of one command

Commands:
`)
	for _, sc := range subcommands {
		if !sc.hidden {
			fmt.Fprintf(w, "  %-8s %s\n", sc.name, sc.summary)
		}
	}
	fmt.Fprint(w, `
By default each command starts its own server from --server-bin (build it with
"go build -o /tmp/herald ./cmd/herald") on a free loopback port with fresh
secrets and a fresh SQLite file, and stops it at the end. --server-pid attaches
to a running server instead (then give --addr, --api-key and --jwt-secret).
See BENCHMARKS.md for the figures and the exact commands.
`)
}

// raiseFileLimit lifts the soft limit on open files to the hard limit: a
// worker holds thousands of sockets, and the mini servers of the wslib
// comparison are children that inherit the limit.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
