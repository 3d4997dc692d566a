package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIntField(t *testing.T) {
	for _, tc := range []struct {
		in, key string
		want    int64
		ok      bool
	}{
		{`{"round":3,"seq":41,"sentNs":1700000000123456789}`, "sentNs", 1700000000123456789, true},
		{`{"round":3,"seq":41}`, "seq", 41, true},
		{`{"data": {"sentNs" : -5 }}`, "sentNs", -5, true},
		{`{"seq":"41"}`, "seq", 0, false},
		{`{"other":1}`, "seq", 0, false},
		{`{"seq":}`, "seq", 0, false},
	} {
		got, ok := intField([]byte(tc.in), tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("intField(%s, %q) = %d, %v; want %d, %v", tc.in, tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFanoutBodyCarriesRoundSeqAndSendTime(t *testing.T) {
	before := time.Now().UnixNano()
	b := fanoutBody(nil, 7, 99, 256)
	for key, want := range map[string]int64{"round": 7, "seq": 99} {
		if got, ok := intField(b, key); !ok || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, ok, want)
		}
	}
	sent, ok := intField(b, "sentNs")
	if !ok || sent < before || sent > time.Now().UnixNano() {
		t.Errorf("sentNs = %d, %v; want a time of this test", sent, ok)
	}
	if len(b) < 200 || len(b) > 300 {
		t.Errorf("body of %d bytes for a 256-byte payload", len(b))
	}
}

func TestNotifyBodyNamesUserAndSendTime(t *testing.T) {
	at := time.Unix(0, 1234567890)
	b := string(notifyBody(nil, "bench-x-", 42, 9, at))
	want := `{"userId":"bench-x-42","type":"bench","title":"Benchmark notification","message":"Notification number 9","data":{"i":9,"sentNs":1234567890}}`
	if b != want {
		t.Errorf("body\n%s\nwant\n%s", b, want)
	}
}

func TestSourceIPsAreDistinctLoopbackAddresses(t *testing.T) {
	seen := map[string]int{}
	for i := range 60000 {
		ip := sourceIP(i)
		if !ip.IsLoopback() || ip.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Fatalf("sourceIP(%d) = %s", i, ip)
		}
		if j, dup := seen[ip.String()]; dup {
			t.Fatalf("sourceIP(%d) = sourceIP(%d) = %s", i, j, ip)
		}
		seen[ip.String()] = i
	}
}

func TestParseRuntimeMetrics(t *testing.T) {
	text := "# HELP go_goroutines x\ngo_goroutines 15012\ngo_memstats_heap_inuse_bytes 3.5405824e+07\n" +
		"go_memstats_stack_inuse_bytes 3.489792e+07\ngo_memstats_sys_bytes 8.2880792e+07\ngo_threads 9\n"
	got := parseRuntimeMetrics(text)
	want := runtimeStats{Goroutines: 15012, HeapInuse: 35405824, StackInuse: 34897920, Sys: 82880792}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseCommitMetrics(t *testing.T) {
	text := `# TYPE herald_store_commit_notifications histogram
herald_store_commit_notifications_bucket{le="1"} 16473
herald_store_commit_notifications_bucket{le="+Inf"} 26552
herald_store_commit_notifications_sum 165212
herald_store_commit_notifications_count 26552
herald_store_commit_seconds_bucket{le="0.0005"} 21993
herald_store_commit_seconds_sum 9.3362
herald_store_commit_seconds_count 26552
`
	got := parseCommitMetrics(text)
	if want := (commitStats{Commits: 26552, Notifications: 165212, Busy: 9.3362}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// A server without the commit loop's metrics: zeros, which notify
	// prints as dashes.
	if got := parseCommitMetrics("go_goroutines 12\n"); got != (commitStats{}) {
		t.Errorf("without the metrics: %+v", got)
	}
	if commitText(0, "%.1f") != "—" || commitText(13.84, "%.1f") != "13.8" {
		t.Errorf("commitText: %q, %q", commitText(0, "%.1f"), commitText(13.84, "%.1f"))
	}
}

func TestDurationListRejectsDisorder(t *testing.T) {
	var l durationList
	if err := l.Set("10s,35s,2m10s"); err != nil || len(l) != 3 || l[2] != 130*time.Second {
		t.Errorf("Set = %v, %v", l, err)
	}
	for _, bad := range []string{"35s,10s", "", "x", "-1s"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// readIOCalls counts this process's own calls: a file written and read back
// adds at least one write and one read.
func TestReadIOCallsCountsOwnCalls(t *testing.T) {
	before, err := readIOCalls(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	after, err := readIOCalls(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after.sub(before); d.Reads < 1 || d.Writes < 1 {
		t.Fatalf("counted %+v calls across a write and a read; want at least one of each", d)
	}
	if _, err := readIOCalls(-1); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

// A figure the tool could not count prints as a dash, not as zero calls.
func TestCallsTextMarksMissingFigures(t *testing.T) {
	if got := callsText(0); got != "—" {
		t.Errorf("callsText(0) = %q, want —", got)
	}
	if got := callsText(3.14159); got != "3.14" {
		t.Errorf("callsText(3.14159) = %q, want 3.14", got)
	}
}

// procFields reads "key: value" lines in the order asked, drops " kB",
// and names the file when a key is missing or a value is not a number;
// readMemory reads this process's own resident memory through it.
func TestProcFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(path, []byte("Name:\tx\nVmRSS:\t  2048 kB\nsyscr: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := procFields(path, "syscr", "VmRSS"); err != nil || v[0] != 7 || v[1] != 2048 {
		t.Errorf("procFields = %v, %v; want [7 2048]", v, err)
	}
	if _, err := procFields(path, "VmRSS", "RssAnon"); err == nil {
		t.Error("no error for a missing key")
	}
	if _, err := procFields(path, "Name"); err == nil {
		t.Error("no error for a value that is not a number")
	}
	m, err := readMemory(os.Getpid())
	if err != nil || m.RSS <= 0 || m.RSSAnon <= 0 || m.RSSAnon > m.RSS {
		t.Errorf("readMemory of this process = %+v, %v", m, err)
	}
}
