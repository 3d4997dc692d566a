package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/disktest"
)

// TestDiskFullAnswers503 fills the disk of a real node's SQLite database (a
// 4 MiB tmpfs): the create that finds no space is answered 503 with a
// message that says so, not 500, and /readyz reports the node not ready, so
// a load balancer takes it out, while reads keep working.
func TestDiskFullAnswers503(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	disk := disktest.Mount(t, "4m")
	s := startApp(t, map[string]string{"HERALD_DB_PATH": disk + "/herald.db"})
	if status, body := s.do("GET", "/readyz", "", nil); status != 200 {
		t.Fatalf("readyz before = %d %s", status, body)
	}
	data := `{"blob":"` + strings.Repeat("x", 15<<10) + `"}`
	var status int
	var body []byte
	created := 0
	for i := 0; i < 1000; i++ { // 1000 × 15 KiB is far more than 4 MiB
		status, body = s.do("POST", "/api/notifications", s.apiKey,
			`{"userId":"filler","type":"t","title":"fill","message":"m","data":`+data+`}`)
		if status != 201 {
			break
		}
		created++
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if status != 503 || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, "disk space") {
		t.Fatalf("the create that filled the disk = %d %s, want 503 unavailable about disk space", status, body)
	}
	status, body = s.do("GET", "/readyz", "", nil)
	if status != 503 || !strings.Contains(string(body), "disk space") {
		t.Errorf("readyz with a full disk = %d %s, want 503 naming the disk", status, body)
	}
	// The count stays exact, whether the store keeps it in memory or had
	// to stop (a commit the disk refused may or may not have committed).
	status, body = s.do("GET", "/api/notifications/unread-count", token(t, s.secret, "filler"), nil)
	var u struct{ Count int }
	if err := json.Unmarshal(body, &u); status != 200 || err != nil {
		t.Fatalf("a read with a full disk = %d %s, want 200", status, body)
	}
	if u.Count != created {
		t.Errorf("unread count with a full disk = %d, want the %d notifications accepted", u.Count, created)
	}
}
