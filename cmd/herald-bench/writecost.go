package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gobwas/ws"
)

// runWriteCost measures the floor under Herald's CPU per delivery: what the
// kernel charges the sending process for writing WebSocket frames to
// loopback TCP connections (on loopback the sender's system call also runs
// the receiving side of TCP), for several numbers of frames per writev.
func runWriteCost(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench writecost", flag.ContinueOnError)
	var lf loadFlags
	lf.register(fs)
	conns := fs.Int("conns", 5000, "client connections")
	frames := fs.Int("frames", 100, "frames written to each connection per batch size")
	payload := fs.Int("payload", 180, "bytes per frame payload (a fan-out message of the fanout command is about this size)")
	var batches intList
	_ = batches.Set("1,2,4,10,100")
	fs.Var(&batches, "batches", "frames per writev system call to try, comma-separated")
	fs.Usage = commandUsage(fs, `writecost: the CPU floor of a delivery on this machine.

Accepts --conns WebSocket connections from worker processes in this process,
then writes --frames frames of --payload bytes to every connection from one
goroutine, with N frames per writev for each N of --batches, connection after
connection as a fan-out does, and reports this process's CPU time (utime+stime
and schedstat) per frame. Nothing but the system calls runs in the measured
loop, so this is what a server pays per delivery at best when it writes N
messages per system call.`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if _, err := ws.Upgrade(nc); err != nil {
					nc.Close()
					return
				}
				mu.Lock()
				accepted = append(accepted, nc)
				mu.Unlock()
			}()
		}
	}()
	base := job{Mode: modeRaw, URL: "ws://" + ln.Addr().String() + "/", Lifetime: lf.connectTime + 10*time.Minute}
	p, err := startPool(base, *conns, lf)
	if err != nil {
		return err
	}
	defer func() {
		p.stop() // clients first, so that they do not report the closes as drops
		mu.Lock()
		for _, nc := range accepted {
			nc.Close()
		}
		mu.Unlock()
	}()
	ready, err := p.awaitReady(ctx, lf.connectTime)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "writecost: %s\n", ready)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		if n >= ready.Connected {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("accepted %d of %d connections", n, ready.Connected)
		}
	}

	var frame bytes.Buffer
	body := strings.Repeat("x", *payload)
	_ = ws.WriteFrame(&frame, ws.NewTextFrame([]byte(body)))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "frames/writev\tframes\tsyscalls\tCPU\tCPU/frame\tsched/frame\tCPU/syscall\t\n")
	self := os.Getpid()
	for _, b := range batches {
		b = max(min(b, *frames), 1)
		scratch := make(net.Buffers, b) // WriteTo consumes its slice, so it gets a copy

		time.Sleep(time.Second) // let the receivers drain the previous batch size
		cpu0, err := readCPU(self)
		if err != nil {
			return err
		}
		var written, calls int64
		for sent := 0; sent < *frames; sent += b {
			n := min(b, *frames-sent)
			for _, nc := range accepted {
				for i := range n {
					scratch[i] = frame.Bytes()
				}
				nb := scratch[:n]
				if _, err := nb.WriteTo(nc); err != nil {
					return err
				}
				written += int64(n)
				calls++
			}
		}
		cpu1, err := readCPU(self)
		if err != nil {
			return err
		}
		d := cpu1.sub(cpu0)
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", b, written, calls, us(d.Stat),
			us(d.Stat/time.Duration(written)), us(d.SchedStat/time.Duration(written)), us(d.SchedStat/time.Duration(calls)))
	}
	return tw.Flush()
}

// intList is a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string { return fmt.Sprint(*l) }

func (l *intList) Set(v string) error {
	*l = nil
	for _, p := range strings.Split(v, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(p), &n); err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive integer", p)
		}
		*l = append(*l, n)
	}
	return nil
}
