package realtime

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// conn is one WebSocket connection as the Server uses it. It keeps the
// WebSocket library behind a seam: if a memory profile calls for a leaner
// library, only the adapter below changes. Read is called by one goroutine,
// Write and Ping by one other; Close and CloseNow by anyone, at any time.
type conn interface {
	// Read returns the next data message. It answers pings meanwhile.
	Read(ctx context.Context) ([]byte, error)
	// Write sends one text message; the connection is unusable after an error.
	Write(ctx context.Context, p []byte) error
	// Ping sends a ping and returns when the peer has answered.
	Ping(ctx context.Context) error
	// Close sends a close frame with code and reason and waits briefly for the peer's.
	Close(code int, reason string) error
	// CloseNow closes the connection without a close handshake.
	CloseNow() error
}

// upgradeFunc answers an upgrade request; on failure it has already written the HTTP response.
type upgradeFunc func(w http.ResponseWriter, r *http.Request) (conn, error)

// coderUpgrader upgrades with github.com/coder/websocket.
func coderUpgrader(readLimit int64) upgradeFunc {
	return func(w http.ResponseWriter, r *http.Request) (conn, error) {
		c, err := websocket.Accept(leanHijacker{w}, r, &websocket.AcceptOptions{
			// The Server has checked Origin before upgrading, for cookie
			// sessions only: for token-authenticated clients Origin is not a
			// security boundary.
			InsecureSkipVerify: true,
		})
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(readLimit)
		return coderConn{c}, nil
	}
}

type coderConn struct{ c *websocket.Conn }

func (c coderConn) Read(ctx context.Context) ([]byte, error) {
	_, b, err := c.c.Read(ctx)
	return b, err
}

func (c coderConn) Write(ctx context.Context, p []byte) error {
	return c.c.Write(ctx, websocket.MessageText, p)
}

func (c coderConn) Ping(ctx context.Context) error { return c.c.Ping(ctx) }

func (c coderConn) Close(code int, reason string) error {
	return c.c.Close(websocket.StatusCode(code), reason)
}

func (c coderConn) CloseNow() error { return c.c.CloseNow() }

// Buffer sizes of a connection. The library keeps the buffers the upgrade
// hands it for the connection's life, and net/http's are 4 KiB each, a third
// of an idle connection's cost. Client frames are small; most event frames
// fit the write buffer, and bigger ones cost one more write call.
const (
	readBufferSize  = 1 << 10
	writeBufferSize = 2 << 10
)

// leanHijacker hands the WebSocket library smaller buffers than net/http's.
type leanHijacker struct{ http.ResponseWriter }

func (w leanHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		c.Close()
		return nil, nil, err
	}
	// What the client sent after the handshake may already be buffered; it
	// must stay in the new reader's buffer, where the library looks for it.
	buffered := bytes.Clone(must(brw.Reader.Peek(brw.Reader.Buffered())))
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(buffered), c), max(readBufferSize, len(buffered)))
	if _, err := br.Peek(len(buffered)); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, bufio.NewReadWriter(br, bufio.NewWriterSize(c, writeBufferSize)), nil
}

// must returns b: Peek of what is buffered cannot fail.
func must(b []byte, _ error) []byte { return b }
