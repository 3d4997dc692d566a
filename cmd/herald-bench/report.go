package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// commandUsage prints a command's description and then its flags.
func commandUsage(fs *flag.FlagSet, text string) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s\n\nUsage: %s [flags]\n\nFlags:\n", strings.TrimSpace(text), fs.Name())
		fs.PrintDefaults()
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func kib(b int64) string {
	if b >= 10<<20 || b <= -10<<20 {
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
}

func kibf(b float64) string { return fmt.Sprintf("%.2f KiB", b/1024) }

// us formats a duration in microseconds or milliseconds, as fits.
func us(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// printIdle prints one line per sample of each idle run: the growth of RSS
// and of the Go runtime's figures, per connection.
func printIdle(w io.Writer, rs []*idleResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tconns\twhen\tRSS before\tRSS after\tΔRSS/conn\tΔanon/conn\tΔstack/conn\tΔheap/conn\tgoroutines/conn\tdropped\t")
	for _, r := range rs {
		for _, s := range r.Samples {
			b := r.Before
			fmt.Fprintf(tw, "%s\t%d\t+%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%d\t\n",
				r.Server, r.Ready.Connected, s.At.Round(time.Second),
				kib(b.Memory.RSS), kib(s.Memory.RSS),
				kibf(r.perConn(b.Memory.RSS, s.Memory.RSS)),
				kibf(r.perConn(b.Memory.RSSAnon, s.Memory.RSSAnon)),
				kibf(r.perConn(b.Runtime.StackInuse, s.Runtime.StackInuse)),
				kibf(r.perConn(b.Runtime.HeapInuse, s.Runtime.HeapInuse)),
				r.perConn(b.Runtime.Goroutines, s.Runtime.Goroutines),
				r.Dropped)
		}
	}
	tw.Flush()
}
