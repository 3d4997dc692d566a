package herald_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// NotificationMessage gives the bytes json.Marshal gives for the same
// fields, live and replayed.
func TestNotificationMessage(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 5e6, time.UTC)
	n := herald.Notification{ID: "a", Seq: 7, UserID: "u", Type: "t", Title: "<Tom & Jerry>", Message: "\u2028\xff",
		Data: json.RawMessage(` {"k": [1, "<"]} `), CreatedAt: at, Timestamp: at}
	encoded, err := n.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, replayed := range []bool{false, true} {
		want, err := json.Marshal(struct {
			Type         string               `json:"type"`
			Notification *herald.Notification `json:"notification"`
			Timestamp    string               `json:"timestamp"`
			Replayed     bool                 `json:"replayed,omitempty"`
		}{herald.TypeNotificationNew, &n, herald.FormatTime(at), replayed})
		if err != nil {
			t.Fatal(err)
		}
		if got := herald.NotificationMessage(encoded, herald.FormatTime(at), replayed); !bytes.Equal(got, want) {
			t.Errorf("replayed %v:\n got %s\nwant %s", replayed, got, want)
		}
	}
}
