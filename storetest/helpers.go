package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// newNotification returns a valid notification for user, its title numbered i.
func newNotification(user string, i int) *herald.Notification {
	return &herald.Notification{
		UserID:  user,
		Type:    "test",
		Title:   fmt.Sprintf("title %d", i),
		Message: fmt.Sprintf("message %d", i),
	}
}

// asNew returns the create requests ns describe. The suite describes
// notifications with herald.Notification, whose ID, Seq and read state the
// stores fill in (see create); only the fields a request has are taken.
func asNew(ns ...*herald.Notification) []*herald.NewNotification {
	out := make([]*herald.NewNotification, len(ns))
	for i, n := range ns {
		out[i] = &herald.NewNotification{
			ID: n.ID, UserID: n.UserID, Type: n.Type, Title: n.Title, Message: n.Message, Link: n.Link,
			Data: n.Data, IdempotencyKey: n.IdempotencyKey,
		}
	}
	return out
}

// CreateInto creates ns the way stores did before they returned results,
// for a store's own tests and benchmarks: each stored notification is copied
// back into ns, and the flags say which were new (not replayed).
func CreateInto(ctx context.Context, s herald.Store, ns []*herald.Notification) ([]bool, error) {
	res, err := s.CreateNotifications(ctx, asNew(ns...), herald.CreateOptions{})
	if err != nil {
		return nil, err
	}
	created := make([]bool, len(res))
	for i, c := range res {
		*ns[i] = *c.Notification
		created[i] = !c.Replayed
	}
	return created, nil
}

// create stores ns, fails the test on error, and copies each stored
// notification back into ns, so the suite can follow them by ID and Seq. It
// returns which were created (not replayed).
func create(t *testing.T, s herald.Store, ns ...*herald.Notification) []bool {
	t.Helper()
	return createWith(t, s, herald.CreateOptions{}, ns...)
}

// createWith is create with opts (a Planner, say).
func createWith(t *testing.T, s herald.Store, opts herald.CreateOptions, ns ...*herald.Notification) []bool {
	t.Helper()
	res := createResultsWith(t, s, opts, ns...)
	created := make([]bool, len(res))
	for i, c := range res {
		*ns[i] = *c.Notification
		created[i] = !c.Replayed
	}
	return created
}

// createResults stores ns and returns the store's results, checked for shape.
func createResults(t *testing.T, s herald.Store, ns ...*herald.Notification) []herald.Created {
	t.Helper()
	return createResultsWith(t, s, herald.CreateOptions{}, ns...)
}

// createResultsWith is createResults with opts.
func createResultsWith(t *testing.T, s herald.Store, opts herald.CreateOptions, ns ...*herald.Notification) []herald.Created {
	t.Helper()
	res, err := s.CreateNotifications(ctx, asNew(ns...), opts)
	if err != nil {
		t.Fatalf("CreateNotifications: %v", err)
	}
	checkResults(t, ns, res)
	return res
}

// checkResults fails the test unless res has one result per notification
// of ns, each with a stored notification of the same user, and a new one
// with its user's Unread.
func checkResults(t *testing.T, ns []*herald.Notification, res []herald.Created) {
	t.Helper()
	if len(res) != len(ns) {
		t.Fatalf("CreateNotifications returned %d results for %d notifications", len(res), len(ns))
	}
	for i, c := range res {
		switch {
		case c.Notification == nil:
			t.Fatalf("result %d has no notification", i)
		case c.Notification.UserID != ns[i].UserID:
			t.Fatalf("result %d is for user %q, want %q", i, c.Notification.UserID, ns[i].UserID)
		case c.Replayed && (c.Unread != herald.Unread{} || len(c.Deliveries) > 0):
			t.Fatalf("replayed result %d carries Unread %+v and %d deliveries, want none", i, c.Unread, len(c.Deliveries))
		case !c.Replayed && !c.Notification.Silent && (c.Unread.Version <= 0 || c.Unread.Count < 1 || c.Unread.LastSeq < c.Notification.Seq):
			t.Fatalf("new result %d (seq %d) has Unread %+v", i, c.Notification.Seq, c.Unread)
		case !c.Replayed && c.Unread.LastSeq < c.Notification.Seq:
			t.Fatalf("new result %d (seq %d) has LastSeq %d", i, c.Notification.Seq, c.Unread.LastSeq)
		}
	}
}

// createN stores n numbered notifications for user in one batch.
func createN(t *testing.T, s herald.Store, user string, n int) []*herald.Notification {
	t.Helper()
	ns := make([]*herald.Notification, n)
	for i := range ns {
		ns[i] = newNotification(user, i+1)
	}
	create(t, s, ns...)
	return ns
}

// find returns the page f selects and fails the test on error.
func find(t *testing.T, s herald.Store, f herald.NotificationFilter) []*herald.Notification {
	t.Helper()
	page, err := s.FindNotifications(ctx, f)
	if err != nil {
		t.Fatalf("FindNotifications(%+v): %v", f, err)
	}
	if page == nil {
		t.Fatalf("FindNotifications(%+v) returned a nil slice, want an empty one", f)
	}
	for _, n := range page {
		if n.UserID != f.UserID {
			t.Fatalf("FindNotifications(%+v) returned a notification of user %q", f, n.UserID)
		}
		if f.UnreadOnly && n.Read {
			t.Fatalf("FindNotifications(%+v) returned read notification seq %d", f, n.Seq)
		}
	}
	return page
}

// all returns every notification of user, oldest first. The suite's users
// have fewer than MaxLimit each.
func all(t *testing.T, s herald.Store, user string) []*herald.Notification {
	t.Helper()
	page := find(t, s, herald.NotificationFilter{UserID: user, Limit: MaxLimit})
	if len(page) == MaxLimit {
		t.Fatalf("all: user %s has %d notifications or more", user, MaxLimit)
	}
	slices.Reverse(page)
	return page
}

// seqs returns the Seq of each notification of page.
func seqs(page []*herald.Notification) []int64 {
	out := make([]int64, len(page))
	for i, n := range page {
		out[i] = n.Seq
	}
	return out
}

// seqRange returns from, from+step, ... for n numbers.
func seqRange(from int64, step int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)*step
	}
	return out
}

// wantSeqs fails the test when page does not hold exactly the sequence numbers want.
func wantSeqs(t *testing.T, what string, page []*herald.Notification, want []int64) {
	t.Helper()
	if got := seqs(page); !slices.Equal(got, want) {
		t.Fatalf("%s: seqs = %v, want %v", what, got, want)
	}
}

// unread returns UnreadCount for user and fails the test on error.
func unread(t *testing.T, s herald.Store, user string) int {
	t.Helper()
	return unreadState(t, s, user).Count
}

// unreadState returns the whole Unread of user and fails the test on error.
func unreadState(t *testing.T, s herald.Store, user string) herald.Unread {
	t.Helper()
	u, err := s.UnreadCount(ctx, user)
	if err != nil {
		t.Fatalf("UnreadCount(%s): %v", user, err)
	}
	return u
}

// wantUnread fails the test when user's unread count is not want.
func wantUnread(t *testing.T, s herald.Store, user string, want int) {
	t.Helper()
	if got := unread(t, s, user); got != want {
		t.Fatalf("UnreadCount(%s) = %d, want %d", user, got, want)
	}
}

// wantCode fails the test when err does not carry code.
func wantCode(t *testing.T, what string, err error, code herald.ErrorCode) {
	t.Helper()
	if got := herald.CodeOf(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// byID returns the notification of user with id, or nil.
func byID(t *testing.T, s herald.Store, user, id string) *herald.Notification {
	t.Helper()
	for _, n := range all(t, s, user) {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// sameNotification fails the test when got and want differ in any field.
func sameNotification(t *testing.T, what string, got, want *herald.Notification) {
	t.Helper()
	var diffs []string
	diff := func(field string, g, w any) { diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		diff("ID", got.ID, want.ID)
	}
	if got.Seq != want.Seq {
		diff("Seq", got.Seq, want.Seq)
	}
	if got.UserID != want.UserID {
		diff("UserID", got.UserID, want.UserID)
	}
	if got.Type != want.Type {
		diff("Type", got.Type, want.Type)
	}
	if got.Title != want.Title {
		diff("Title", got.Title, want.Title)
	}
	if got.Message != want.Message {
		diff("Message", got.Message, want.Message)
	}
	if got.Link != want.Link {
		diff("Link", got.Link, want.Link)
	}
	if !bytes.Equal(got.Data, want.Data) {
		diff("Data", string(got.Data), string(want.Data))
	}
	if got.Read != want.Read {
		diff("Read", got.Read, want.Read)
	}
	switch {
	case (got.ReadAt == nil) != (want.ReadAt == nil):
		diff("ReadAt", got.ReadAt, want.ReadAt)
	case got.ReadAt != nil && !got.ReadAt.Equal(*want.ReadAt):
		diff("ReadAt", *got.ReadAt, *want.ReadAt)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		diff("CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	if !got.Timestamp.Equal(want.Timestamp) {
		diff("Timestamp", got.Timestamp, want.Timestamp)
	}
	if len(diffs) > 0 {
		t.Fatalf("%s: notification differs:\n%s", what, joinLines(diffs))
	}
	wantUTC(t, what, got)
}

// wantUTC fails the test when a time of n is not in UTC.
func wantUTC(t *testing.T, what string, n *herald.Notification) {
	t.Helper()
	if n.CreatedAt.Location() != time.UTC || n.Timestamp.Location() != time.UTC {
		t.Fatalf("%s: CreatedAt %v / Timestamp %v not in UTC", what, n.CreatedAt, n.Timestamp)
	}
	if n.ReadAt != nil && n.ReadAt.Location() != time.UTC {
		t.Fatalf("%s: ReadAt %v not in UTC", what, *n.ReadAt)
	}
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString("\t" + l + "\n")
	}
	return b.String()
}
