package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Limits on events, checked before any template runs.
const (
	// MaxNameLen bounds event names.
	MaxNameLen = 64
	// MaxIDLen bounds event ids, so "event:<id>:<index>" fits
	// herald.MaxKeyLen.
	MaxIDLen = 100
)

// userIDField is the event field naming the recipient.
const userIDField = "userId"

// checkName reports whether name is a valid event name: 1 to MaxNameLen
// ASCII letters, digits and the separators ":", ".", "_" and "-".
func checkName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return herald.Errorf(herald.EINVALID, "event name must be 1 to %d characters", MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(":._-", c) >= 0) {
			return herald.Errorf(herald.EINVALID, "event name may hold only letters, digits and : . _ -")
		}
	}
	return nil
}

// render turns e, whose name is t's, into its notifications.
func (t *eventTemplate) render(e *herald.Event) ([]*herald.NewNotification, error) {
	var missing []string
	for _, f := range t.required {
		if v, ok := e.Data[f]; !ok || v == nil {
			missing = append(missing, fmt.Sprintf("%q", f))
		}
	}
	if len(missing) > 0 {
		return nil, herald.Errorf(herald.EUNPROCESSABLE, "event %q is missing required field(s) %s", t.event, strings.Join(missing, ", "))
	}
	userID, ok := e.Data[userIDField].(string)
	if !ok || userID == "" {
		return nil, herald.Errorf(herald.EUNPROCESSABLE, "event %q: userId must be a non-empty string", t.event)
	}

	view := templateView(map[string]any(e.Data))
	n := &herald.NewNotification{UserID: userID, Type: t.typ}
	var err error
	if n.Title, err = t.exec(t.title, "title", view, herald.MaxTitleLen); err != nil {
		return nil, err
	}
	if n.Message, err = t.exec(t.message, "message", view, herald.MaxMessageLen); err != nil {
		return nil, err
	}
	if n.Link, err = t.exec(t.link, "link", view, herald.MaxLinkLen); err != nil {
		return nil, err
	}
	if n.Data, err = t.renderData(e.Data, view); err != nil {
		return nil, err
	}
	ns := []*herald.NewNotification{n}
	if e.ID != "" {
		for i, n := range ns {
			n.IdempotencyKey = fmt.Sprintf("event:%s:%d", e.ID, i)
		}
	}
	return ns, nil // the inbox validates them (see Handler.HandleEvent)
}

// exec runs tmpl (nil renders "") over view, keeping at most max bytes.
func (t *eventTemplate) exec(tmpl *template.Template, field string, view any, max int) (string, error) {
	if tmpl == nil {
		return "", nil
	}
	w := &limitWriter{max: max}
	if err := tmpl.Execute(w, view); err != nil {
		if errors.Is(err, errTooLarge) {
			return "", herald.Errorf(herald.ETOOLARGE, "event %q: %s is longer than %d bytes", t.event, field, max)
		}
		return "", herald.Errorf(herald.EUNPROCESSABLE, "event %q: cannot render %s: %s", t.event, field, execMessage(err))
	}
	return w.b.String(), nil
}

// execMessage shortens a template execution error to its cause, e.g.
// `map has no entry for key "tripId"`, dropping the template position.
func execMessage(err error) string {
	msg := err.Error()
	if _, cause, ok := strings.Cut(msg, ">: "); ok && strings.HasPrefix(msg, "template: ") {
		msg = cause
	}
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	return msg
}

// renderData builds the notification's data object, or nil when the template
// has none.
func (t *eventTemplate) renderData(data map[string]any, view any) (json.RawMessage, error) {
	if len(t.data) == 0 {
		return nil, nil
	}
	obj := make(map[string]json.RawMessage, len(t.data))
	for _, f := range t.data {
		switch {
		case f.tmpl != nil:
			s, err := t.exec(f.tmpl, "data."+f.key, view, herald.MaxDataLen)
			if err != nil {
				return nil, err
			}
			obj[f.key], _ = json.Marshal(s) // a string always encodes
		case f.from != "":
			v, ok := data[f.from]
			if !ok {
				continue // as JSON.stringify drops undefined
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, herald.Errorf(herald.EUNPROCESSABLE, "event %q: field %q cannot be copied to data", t.event, f.from)
			}
			obj[f.key] = b
		default:
			obj[f.key] = f.value
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, herald.Errorf(herald.EUNPROCESSABLE, "event %q: cannot encode data", t.event)
	}
	return b, nil
}
