package events

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Templates is a set of event templates keyed by event name. It is immutable
// and safe for concurrent use.
type Templates struct {
	byName map[string]*eventTemplate
}

//go:embed defaults.json
var defaultsJSON []byte

// defaults is compiled once; a broken defaults.json fails every test at init.
var defaults = mustParse("defaults.json", defaultsJSON)

// Defaults returns the templates of the design document's events:
// booking:confirmed, payment:due and contract:expiring.
func Defaults() *Templates { return defaults }

// LoadFile reads the template file at path (see the package documentation for
// its format) and returns the built-in templates extended by its events, which
// replace built-in events of the same name. Errors name the file and event.
func LoadFile(path string) (*Templates, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return Parse(path, b)
}

// Parse is LoadFile for a document already read; source names it in errors.
func Parse(source string, doc []byte) (*Templates, error) {
	file, err := parseDoc(source, doc)
	if err != nil {
		return nil, err
	}
	all := maps.Clone(defaults.byName)
	maps.Copy(all, file.byName)
	return &Templates{byName: all}, nil
}

// parseDoc compiles the events of one template document.
func parseDoc(source string, doc []byte) (*Templates, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("events: %s: %v", source, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("events: %s: the document must be a JSON object of event definitions", source)
	}
	ts := &Templates{byName: make(map[string]*eventTemplate, len(raw))}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		var d definition
		dec := json.NewDecoder(bytes.NewReader(raw[name]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("events: %s: event %q: %v", source, name, err)
		}
		t, err := compile(name, &d)
		if err != nil {
			return nil, fmt.Errorf("events: %s: event %q: %v", source, name, err)
		}
		ts.byName[name] = t
	}
	return ts, nil
}

// mustParse compiles a document built into the program.
func mustParse(source string, doc []byte) *Templates {
	ts, err := parseDoc(source, doc)
	if err != nil {
		panic(err)
	}
	return ts
}

// Names returns the event names ts knows, sorted.
func (ts *Templates) Names() []string {
	return slices.Sorted(maps.Keys(ts.byName))
}

// Render checks e and turns it into the notifications its template describes,
// without creating them. A malformed name or id is EINVALID; an unknown event,
// a missing required field or a template that cannot render it is
// EUNPROCESSABLE.
func (ts *Templates) Render(e *herald.Event) ([]*herald.NewNotification, error) {
	if e == nil {
		return nil, herald.Errorf(herald.EINVALID, "event is required")
	}
	if err := checkName(e.Name); err != nil {
		return nil, err
	}
	if len(e.ID) > MaxIDLen || !utf8.ValidString(e.ID) {
		return nil, herald.Errorf(herald.EINVALID, "event id must be valid UTF-8 of at most %d bytes", MaxIDLen)
	}
	t, ok := ts.byName[e.Name]
	if !ok {
		return nil, herald.Errorf(herald.EUNPROCESSABLE, "unknown event %q", e.Name)
	}
	return t.render(e)
}
