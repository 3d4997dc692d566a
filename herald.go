// Package herald is the glossary of the Herald notification service: the domain
// types (Notification, Event, Claims, Message) and the small contracts between its
// parts (Store, Broker, Hub, TokenVerifier, Inbox). It depends on the standard
// library only, so every implementation package can import it and none needs to
// import another.
//
// The wire protocol Herald speaks is described in docs/protocol.md.
package herald
