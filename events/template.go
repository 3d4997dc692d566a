package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"

	"github.com/heraldhq/herald"
)

// eventTemplate is the compiled definition of one event: how its data becomes a
// notification. It is immutable and safe for concurrent use.
type eventTemplate struct {
	event    string
	required []string // always includes userId
	typ      string
	title    *template.Template
	message  *template.Template // nil: empty message
	link     *template.Template // nil: no link
	data     []dataField        // sorted by key
}

// dataField is one key of the notification's data: exactly one of tmpl, from
// and value is set.
type dataField struct {
	key   string
	tmpl  *template.Template
	from  string
	value json.RawMessage
}

// definition is a Template as written in a template file.
type definition struct {
	Required []string                   `json:"required"`
	Type     string                     `json:"type"`
	Title    string                     `json:"title"`
	Message  string                     `json:"message"`
	Link     string                     `json:"link"`
	Data     map[string]json.RawMessage `json:"data"`
}

// fromValue is the {"from": "field"} form of a data value.
type fromValue struct {
	From string `json:"from"`
}

// maxDataKeyLen bounds the keys of a definition's data.
const maxDataKeyLen = 64

// compile checks d and compiles its templates. Errors name the field at fault;
// the caller adds the file and event.
func compile(event string, d *definition) (*eventTemplate, error) {
	if err := checkName(event); err != nil {
		return nil, errors.New(herald.ErrorMessage(err))
	}
	t := &eventTemplate{event: event, typ: d.Type}
	switch {
	case d.Type == "":
		return nil, errors.New("type is required")
	case len(d.Type) > herald.MaxTypeLen:
		return nil, fmt.Errorf("type is longer than %d bytes", herald.MaxTypeLen)
	case d.Title == "":
		return nil, errors.New("title is required")
	}
	for _, f := range d.Required {
		if f == "" {
			return nil, errors.New("required: field names must not be empty")
		}
		if !slices.Contains(t.required, f) {
			t.required = append(t.required, f)
		}
	}
	if !slices.Contains(t.required, userIDField) {
		t.required = append([]string{userIDField}, t.required...)
	}
	var err error
	if t.title, err = parse(event, "title", d.Title); err != nil {
		return nil, err
	}
	if d.Message != "" {
		if t.message, err = parse(event, "message", d.Message); err != nil {
			return nil, err
		}
	}
	if d.Link != "" {
		if t.link, err = parse(event, "link", d.Link); err != nil {
			return nil, err
		}
	}
	for key, raw := range d.Data {
		f, err := compileData(event, key, raw)
		if err != nil {
			return nil, err
		}
		t.data = append(t.data, f)
	}
	slices.SortFunc(t.data, func(a, b dataField) int { return strings.Compare(a.key, b.key) })
	return t, nil
}

// compileData compiles the data value raw of key.
func compileData(event, key string, raw json.RawMessage) (dataField, error) {
	f := dataField{key: key}
	if key == "" || len(key) > maxDataKeyLen {
		return f, fmt.Errorf("data: keys must be 1 to %d bytes", maxDataKeyLen)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return f, fmt.Errorf("data.%s: empty value", key)
	}
	switch raw[0] {
	case '"':
		var src string
		if err := json.Unmarshal(raw, &src); err != nil {
			return f, fmt.Errorf("data.%s: %v", key, err)
		}
		var err error
		f.tmpl, err = parse(event, "data."+key, src)
		return f, err
	case '{':
		var from fromValue
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&from); err != nil || from.From == "" {
			return f, fmt.Errorf(`data.%s: an object must be {"from": "field"}`, key)
		}
		f.from = from.From
		return f, nil
	case '[':
		return f, fmt.Errorf(`data.%s: arrays are not supported; use {"from": "field"} to copy one`, key)
	}
	if !json.Valid(raw) {
		return f, fmt.Errorf("data.%s: invalid JSON value", key)
	}
	f.value = raw
	return f, nil
}

// parse compiles one text template of event; a missing key is an error when
// it is executed.
func parse(event, field, src string) (*template.Template, error) {
	t, err := template.New(event + "." + field).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	return t, nil
}
