package client

import (
	"context"
	"log/slog"

	"github.com/coder/websocket"
)

// Transport is what carries a Client's connection.
type Transport string

// The transports (docs/protocol.md, Server-Sent Events).
const (
	// TransportAuto tries the WebSocket first and falls back to SSE (plus
	// POSTs for what the client sends) when a WebSocket cannot be
	// established: a handshake refused by something other than Herald's
	// own auth and limit statuses (a proxy that strips Upgrade), or
	// repeated abnormal closes before the greeting (default).
	TransportAuto Transport = "auto"
	// TransportWebSocket uses /ws only.
	TransportWebSocket Transport = "websocket"
	// TransportSSE uses /sse only.
	TransportSSE Transport = "sse"
)

// link carries one connection's messages, whatever the transport: the
// session reads JSON messages from it and writes JSON messages to it.
type link interface {
	// read returns the next message as JSON; a close is a
	// websocket.CloseError whatever the transport, so that one table
	// (closeError) types it.
	read(ctx context.Context) ([]byte, error)
	write(ctx context.Context, data []byte) error
	closeNormally()
	closeNow()
}

// wsLink is a WebSocket connection in the negotiated encoding.
type wsLink struct {
	conn *websocket.Conn
	enc  Encoding
	log  *slog.Logger
}

func (l *wsLink) read(ctx context.Context) ([]byte, error) {
	for {
		typ, data, err := l.conn.Read(ctx)
		if err != nil {
			return nil, err
		}
		if data, err = frameJSON(typ, data); err != nil {
			l.log.Warn("herald client: the server sent a binary message that is not MessagePack", "err", err.Error())
			continue
		}
		return data, nil
	}
}

func (l *wsLink) write(ctx context.Context, data []byte) error {
	typ := websocket.MessageText
	if l.enc == EncodingMsgpack {
		b, err := jsonToMsgpack(data)
		if err != nil {
			return &Error{Type: ErrServer, Message: "encoding the message as MessagePack", Err: err}
		}
		typ, data = websocket.MessageBinary, b
	}
	return l.conn.Write(ctx, typ, data)
}

func (l *wsLink) closeNormally() { _ = l.conn.Close(websocket.StatusNormalClosure, "") }
func (l *wsLink) closeNow()      { _ = l.conn.CloseNow() }
