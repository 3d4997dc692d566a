// Package events turns domain events from backends, such as
// "booking:confirmed", into notifications. Each event name has a template
// that says who the notification is for, what it says and what data it
// carries; Handler renders it and creates the result through a herald.Inbox,
// so the notification is stored and then pushed like any other.
//
// # Built-in events
//
// Defaults returns the templates of the three events of the design document:
// booking:confirmed, payment:due and contract:expiring (see defaults.json).
//
// # Template files
//
// More events need no code: LoadFile reads a JSON document whose keys are
// event names and whose values define one template each. Its events extend
// the built-in ones and replace those of the same name.
//
//	{
//	  "trip:started": {
//	    "required": ["userId", "tripId"],
//	    "type": "trip_update",
//	    "title": "Trip Started",
//	    "message": "Your driver has started trip {{.tripId}}.",
//	    "link": "/trips/{{.tripId}}",
//	    "data": {
//	      "trip_id": {"from": "tripId"},
//	      "label": "Trip {{.tripId}}",
//	      "priority": 2
//	    }
//	  }
//	}
//
// The fields of a definition:
//
//   - required: event data fields that must be present and not null. An event
//     missing any is refused (EUNPROCESSABLE) with the names of those missing.
//     userId is always required, whether listed or not.
//   - type: the notification type, a plain string (required).
//   - title, message, link: text/template templates (title is required). They
//     see the event data as "." and fail on a missing key (missingkey=error),
//     so {{.tripId}} with no tripId in the event is refused rather than
//     rendered as "<no value>". An optional field is reached with index,
//     which yields nothing for a missing key: {{with index . "note"}} ({{.}}){{end}}.
//     So is a field whose name is not an identifier: {{index . "trip-id"}}.
//   - data: the notification's data object, whose values are described below.
//
// A value in data is one of:
//
//   - a string: a template like title, whose result is a JSON string;
//   - {"from": "field"}: a copy of the event field with its JSON type, so a
//     numeric id stays a number; when the field is absent the key is left
//     out, as JavaScript's JSON.stringify drops undefined (list the field
//     under required to insist on it);
//   - a number, boolean or null: a constant copied as it is.
//
// Values print in templates as JavaScript prints them in a template literal:
// the number 150 as "150", 99.5 as "99.5", 1e21 as "1e+21", null as "null".
// Unknown fields in a definition, bad templates and bad data values are
// reported by LoadFile with the file and event name.
//
// # Events
//
// The recipient of an event's notification is its data.userId, which must be
// a non-empty string. An event whose ID is set gives its notification the
// idempotency key "event:<ID>:0", so an event delivered twice creates nothing
// the second time: the store returns the notification it already holds.
package events
