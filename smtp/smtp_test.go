package smtp_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/smtptest"
	"github.com/heraldhq/herald/smtp"
)

var ctx = context.Background()

// newSender returns a Sender for srv with STARTTLS and AUTH.
func newSender(t *testing.T, srv *smtptest.Server, edit func(*smtp.Config)) *smtp.Sender {
	t.Helper()
	c := smtp.Config{
		Host: srv.Host, Port: srv.Port,
		Username: smtptest.Username, Password: smtptest.Password,
		From:      "Herald <notify@herald.example>",
		TLSConfig: &tls.Config{RootCAs: srv.Roots},
		Timeout:   5 * time.Second,
	}
	if edit != nil {
		edit(&c)
	}
	s, err := smtp.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func outbound(id string, ns ...*herald.Notification) *herald.Outbound {
	return &herald.Outbound{
		Delivery:      &herald.Delivery{ID: id, Channel: herald.ChannelEmail},
		Notifications: ns,
		Email:         "ana@example.com",
		TimeZone:      "Europe/Paris",
	}
}

var created = time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC)

func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, srv, nil)
	n := &herald.Notification{ID: "n1", Title: "Payment due <soon>", Message: "You owe $12 & change.", Link: "https://app.example/pay?id=7", CreatedAt: created}
	if err := s.Send(ctx, outbound("d-1", n)); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.User != smtptest.Username {
		t.Fatalf("session TLS %v, user %q: want STARTTLS and AUTH", m.TLS, m.User)
	}
	if m.From != "notify@herald.example" || len(m.To) != 1 || m.To[0] != "ana@example.com" {
		t.Fatalf("envelope from %q to %v", m.From, m.To)
	}
	if got := m.Subject(); got != n.Title {
		t.Fatalf("subject %q, want %q", got, n.Title)
	}
	if m.MessageID != "<d-1@herald.example>" || m.Header.Get("X-Herald-Delivery-Id") != "d-1" {
		t.Fatalf("Message-ID %q, X-Herald-Delivery-Id %q", m.MessageID, m.Header.Get("X-Herald-Delivery-Id"))
	}
	if m.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Fatal("no Auto-Submitted header")
	}
	for _, want := range []string{n.Title, n.Message, n.Link, "Mon 6 May 2030 09:08 CEST"} {
		if !strings.Contains(m.Text, want) {
			t.Fatalf("text part lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{"Payment due &lt;soon&gt;", "You owe $12 &amp; change.", `href="https://app.example/pay?id=7"`} {
		if !strings.Contains(m.HTML, want) {
			t.Fatalf("HTML part lacks %q:\n%s", want, m.HTML)
		}
	}
}

func TestSendDigest(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, srv, nil)
	m := outbound("d-2",
		&herald.Notification{Title: "First", Message: "one", CreatedAt: created},
		&herald.Notification{Title: "Second", Message: "two", CreatedAt: created},
		&herald.Notification{Title: "Third", Message: "three", CreatedAt: created})
	m.Digest = true
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("a digest of 3 sent %d emails", len(got))
	}
	if got[0].Subject() != "3 new notifications" {
		t.Fatalf("digest subject %q", got[0].Subject())
	}
	for _, want := range []string{"First", "Second", "Third", "three"} {
		if !strings.Contains(got[0].Text, want) || !strings.Contains(got[0].HTML, want) {
			t.Fatalf("digest lacks %q", want)
		}
	}
}

func TestCustomTemplates(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, srv, func(c *smtp.Config) {
		c.Templates = smtp.Templates{Subject: "[App] {{.Notification.Title}}", Text: "Hi! {{.Notification.Message}}", HTML: "<p>{{.Notification.Message}}</p>"}
	})
	// A title with a line break cannot inject a header.
	n := &herald.Notification{Title: "Hello\r\nBcc: evil@example.com", Message: "body", CreatedAt: created}
	if err := s.Send(ctx, outbound("d-3", n)); err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	if m.Subject() != "[App] Hello Bcc: evil@example.com" || m.Header.Get("Bcc") != "" || len(m.To) != 1 {
		t.Fatalf("subject %q, Bcc %q, rcpts %v", m.Subject(), m.Header.Get("Bcc"), m.To)
	}
	if strings.TrimSpace(m.Text) != "Hi! body" || strings.TrimSpace(m.HTML) != "<p>body</p>" {
		t.Fatalf("text %q, HTML %q", m.Text, m.HTML)
	}
	if _, err := smtp.New(smtp.Config{Host: "x", From: "a@b.example", Templates: smtp.Templates{HTML: "{{.Nope"}}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("a broken template = %v, want EINVALID", err)
	}
}

func TestErrorsSayWhetherToRetry(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, srv, nil)
	n := &herald.Notification{Title: "t", CreatedAt: created}

	srv.Defer(1)
	if err := s.Send(ctx, outbound("d-4", n)); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("a 451 = %v, want EUNAVAILABLE (retry)", err)
	}
	srv.Refuse()
	err := s.Send(ctx, outbound("d-5", n))
	if herald.CodeOf(err) != herald.EUNPROCESSABLE || !strings.Contains(err.Error(), "554") {
		t.Fatalf("a 554 = %v, want EUNPROCESSABLE (give up)", err)
	}
	wrong := newSender(t, srv, func(c *smtp.Config) { c.Password = "wrong" })
	err = wrong.Send(ctx, outbound("d-6", n))
	if herald.CodeOf(err) != herald.EUNAVAILABLE || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad credentials = %v, want EUNAVAILABLE without the password", err)
	}
	// A server whose certificate is not trusted is not sent to.
	untrusted := newSender(t, srv, func(c *smtp.Config) { c.TLSConfig = nil })
	if err := untrusted.Send(ctx, outbound("d-7", n)); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("untrusted certificate = %v, want EUNAVAILABLE", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatalf("%d messages accepted", len(srv.Messages()))
	}
	if _, err := smtp.New(smtp.Config{Host: "x", From: "not an address"}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("a bad From = %v", err)
	}
	if err := s.Send(ctx, &herald.Outbound{Delivery: &herald.Delivery{ID: "x"}, Notifications: []*herald.Notification{n}}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("no address = %v, want EINVALID", err)
	}
}
