// Package client is the Go SDK of Herald: a WebSocket client that stays
// connected, and REST helpers for the inbox and the server API.
//
// Where a WebSocket cannot be established — a proxy that strips Upgrade, or
// connections that keep dropping before the greeting — the client falls back
// by itself to Server-Sent Events (GET /sse, with what it sends POSTed to the
// stream), with the same methods, events and states; Options.Transport forces
// either, and Client.Transport tells which one carries the connection.
//
// A Client connects to /ws, authenticates with a token from a TokenSource,
// and keeps the connection alive: it reconnects with exponential backoff (1 s
// doubling to 30 s, with jitter) after a network failure, at once with a fresh
// token after an authentication failure, refreshes its token in-band before it
// expires, and resumes from the last seq it saw, so that an application sees
// every notification exactly once even across server restarts.
//
//	c, err := client.New(client.Options{
//		URL:         "ws://localhost:3007/ws",
//		TokenSource: client.StaticToken(token),
//	})
//	if err != nil { … }
//	c.OnMessage(func(n client.Notification) { fmt.Println(n.Title) })
//	c.OnReconnecting(func(attempt int) { log.Printf("reconnecting, attempt %d", attempt) })
//	if err := c.ConnectWithRetry(ctx); err != nil { … }
//	defer c.Disconnect()
//
// Handlers run one at a time on a goroutine of the client's, in the order
// the events happened; OnMessage sees each notification once, OnRaw every
// message as it came. Unread returns the user's unread count as the server
// last gave it and OnUnreadCount reports each change: counts carry a version,
// and one older than the count the client holds is ignored, so a count that
// two servers published out of order never overwrites the newer one. The inbox methods (List, UnreadCount, MarkRead,
// MarkAllRead, Delete) are REST calls with the same token source; the
// server API for backends is API.
//
// Token sources play the role of the design document's server actions:
// LoginTokenSource logs in with a username and password and caches the access
// and refresh tokens with safety margins, in memory or in Redis (RedisCache)
// so that several backend instances share them; ConnectionTokenSource mints
// short-lived per-user connection tokens with POST /api/tokens.
//
// Messages are JSON text frames by default. Options.Encoding =
// EncodingMsgpack asks for the herald.msgpack subprotocol, in which the
// server sends the same messages as MessagePack binary frames, smaller and
// quicker to parse when payloads are large; the client sends its own
// messages (pings, subscriptions, in-band tokens, Send) as MessagePack too,
// but for the first auth message, which the server reads as JSON text
// before the encoding applies. Handlers and OnRaw see JSON either way:
// MessagePack is converted as it arrives, numbers staying numbers, so
// only the raw bytes differ (object keys sorted, no spaces).
// Options.Compression offers permessage-deflate without context
// takeover, which a server started with WS_PERMESSAGE_DEFLATE=true
// accepts; messages of 512 bytes or more then travel compressed. Both are
// offers: a server that declines them, such as one older than the
// encodings, is spoken to in plain JSON text, and Client.Encoding and
// Client.Compressed say what the open connection uses.
//
// The package depends on the root herald package only for the wire
// protocol's names; it can be imported by any Go program.
package client
