package smtp

import (
	"bytes"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/heraldhq/herald"
)

// Templates are the sources of an email's parts, in Go's template language.
// Subject and Text are text/template, HTML is html/template (so notification
// text is escaped). Each gets a Data. An empty field takes its default.
type Templates struct {
	Subject, Text, HTML string
}

// Data is what the templates render.
type Data struct {
	// Notification is the one notification, or the first of a digest.
	Notification *herald.Notification
	// Notifications holds every notification: one, or a digest's items.
	Notifications []*herald.Notification
	// Digest says this is a digest email.
	Digest bool
	// Location is the user's time zone, for the "local" function.
	Location *time.Location
}

// DefaultTemplates render a plain notification email and a digest.
var DefaultTemplates = Templates{
	Subject: `{{if .Digest}}{{len .Notifications}} new notification{{if gt (len .Notifications) 1}}s{{end}}{{else}}{{.Notification.Title}}{{end}}`,
	Text: `{{range .Notifications}}{{.Title}}
{{if .Message}}
{{.Message}}
{{end}}{{if .Link}}
{{.Link}}
{{end}}
({{local .CreatedAt}})

{{end}}-- 
You receive this because of your notification settings.
`,
	HTML: `<!doctype html>
<html><body style="font-family: sans-serif">
{{range .Notifications}}<div style="margin-bottom: 1.5em">
<h2 style="font-size: 1.1em; margin: 0">{{if .Link}}<a href="{{.Link}}">{{.Title}}</a>{{else}}{{.Title}}{{end}}</h2>
{{if .Message}}<p style="margin: .3em 0">{{.Message}}</p>{{end}}
<small style="color: #666">{{local .CreatedAt}}</small>
</div>
{{end}}<p style="color: #666; font-size: .8em">You receive this because of your notification settings.</p>
</body></html>
`,
}

// templates are parsed Templates.
type templates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// rendered is one email's parts.
type rendered struct{ subject, text, html string }

func (t Templates) parse() (*templates, error) {
	def := DefaultTemplates
	pick := func(v, d string) string {
		if strings.TrimSpace(v) == "" {
			return d
		}
		return v
	}
	var funcs = map[string]any{"local": func(at time.Time) string { return at.Format("Mon 2 Jan 2006 15:04 MST") }}
	var out templates
	var err error
	if out.subject, err = texttemplate.New("subject").Funcs(funcs).Parse(pick(t.Subject, def.Subject)); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "smtp: subject template: %s", err.Error())
	}
	if out.text, err = texttemplate.New("text").Funcs(funcs).Parse(pick(t.Text, def.Text)); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "smtp: text template: %s", err.Error())
	}
	if out.html, err = htmltemplate.New("html").Funcs(funcs).Parse(pick(t.HTML, def.HTML)); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "smtp: HTML template: %s", err.Error())
	}
	return &out, nil
}

// render renders the parts of m. A template that fails (a field it names is
// missing) is a bug in the configuration: EINTERNAL, retried until fixed.
func (t *templates) render(m *herald.Outbound) (*rendered, error) {
	loc := time.UTC
	if m.TimeZone != "" {
		if l, err := time.LoadLocation(m.TimeZone); err == nil {
			loc = l
		}
	}
	d := Data{Notification: m.Notifications[0], Notifications: m.Notifications, Digest: m.Digest, Location: loc}
	local := map[string]any{"local": func(at time.Time) string { return at.In(loc).Format("Mon 2 Jan 2006 15:04 MST") }}
	var subject, text, html bytes.Buffer
	if err := texttemplate.Must(t.subject.Clone()).Funcs(local).Execute(&subject, d); err != nil {
		return nil, herald.Errorf(herald.EUNAVAILABLE, "the subject template failed")
	}
	if err := texttemplate.Must(t.text.Clone()).Funcs(local).Execute(&text, d); err != nil {
		return nil, herald.Errorf(herald.EUNAVAILABLE, "the text template failed")
	}
	hc, err := t.html.Clone()
	if err != nil {
		return nil, herald.Errorf(herald.EUNAVAILABLE, "the HTML template failed")
	}
	if err := hc.Funcs(local).Execute(&html, d); err != nil {
		return nil, herald.Errorf(herald.EUNAVAILABLE, "the HTML template failed")
	}
	return &rendered{subject: oneLine(subject.String()), text: text.String(), html: html.String()}, nil
}
