//go:build ignore

// apikeyprobe measures how fast one client address can try API keys: it
// sends wrong keys to GET /api/stats from a few keep-alive connections for a
// while, and prints how many were answered 401 (a guess checked) and 429
// (throttled) per second. It is the measurement behind the figures in
// docs/security.md:
//
//	go run scripts/apikeyprobe.go -addr 127.0.0.1:3007 -for 10s
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3007", "Herald's address")
	conns := flag.Int("conns", 4, "concurrent keep-alive connections")
	dur := flag.Duration("for", 10*time.Second, "how long to probe")
	flag.Parse()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns}, Timeout: 5 * time.Second}
	var mu sync.Mutex
	counts := map[int]int{}
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for w := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				req, _ := http.NewRequest("GET", "http://"+*addr+"/api/stats", nil)
				req.Header.Set("Authorization", fmt.Sprintf("Bearer wrong-key-%d-%d-0123456789abcdef0123456789", w, i))
				resp, err := client.Do(req)
				status := -1
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := dur.Seconds()
	fmt.Printf("%d wrong keys in %s from one address: 401 (checked) %d = %.1f/s, 429 (throttled) %d = %.1f/s, errors %d\n",
		counts[401]+counts[429]+counts[-1], *dur, counts[401], float64(counts[401])/secs, counts[429], float64(counts[429])/secs, counts[-1])
	if counts[-1] > 0 {
		os.Exit(1)
	}
}
