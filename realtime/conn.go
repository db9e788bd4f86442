package realtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"net"
	"net/http"
	"sync"

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

// What a connection holds while idle is what counts toward the memory budget
// (ARCHITECTURE.md: 20 KB per idle connection, all state included). The
// library keeps the buffered reader and writer the upgrade hands it for the
// connection's life; net/http's are 4 KiB each. The reader is small: a client
// frame of up to about readBufferSize bytes is read in one call, larger ones
// in two. The writer is tiny and writes through to frameWriter, which holds a
// buffer only while a frame is being written and hands each complete frame
// to the socket in one write.
const (
	readBufferSize  = 256
	writeBufferSize = 32
)

// leanHijacker hands the WebSocket library small buffers and a connection
// whose writes are gathered into whole frames.
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
	fc := &frameConn{Conn: c}
	// What the client sent after the handshake may already be buffered; it
	// must stay in the new reader's buffer, where the library looks for it.
	buffered := bytes.Clone(must(brw.Reader.Peek(brw.Reader.Buffered())))
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(buffered), fc), max(readBufferSize, len(buffered)))
	if _, err := br.Peek(len(buffered)); err != nil {
		c.Close()
		return nil, nil, err
	}
	return fc, bufio.NewReadWriter(br, bufio.NewWriterSize(fc, writeBufferSize)), nil
}

// must returns b: Peek of what is buffered cannot fail.
func must(b []byte, _ error) []byte { return b }

// frameConn is a server connection whose writes are gathered into whole
// WebSocket frames: the library writes a frame's header and payload in
// pieces through its small buffered writer, and each complete frame goes to
// the socket in one write (one TCP segment for a small frame, as with a big
// buffered writer). Between frames it holds no buffer.
type frameConn struct {
	net.Conn

	mu  sync.Mutex
	buf *[]byte // from framePool while a frame is incomplete
}

// framePool holds buffers for frames being gathered; most frames fit.
var framePool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

// maxPooledFrame: buffers grown beyond it by a big frame are not kept.
const maxPooledFrame = 64 << 10

func (c *frameConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = framePool.Get().(*[]byte)
	}
	buf := append(*c.buf, p...)
	complete := 0
	for {
		n := frameLength(buf[complete:])
		if n == 0 || n > len(buf)-complete {
			break
		}
		complete += n
	}
	var err error
	if complete > 0 {
		_, err = c.Conn.Write(buf[:complete])
		buf = buf[:copy(buf, buf[complete:])]
	}
	*c.buf = buf
	if len(buf) == 0 || err != nil {
		c.release()
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// release returns the gathering buffer to the pool; c.mu is held.
func (c *frameConn) release() {
	if cap(*c.buf) <= maxPooledFrame {
		*c.buf = (*c.buf)[:0]
		framePool.Put(c.buf)
	}
	c.buf = nil
}

// frameLength returns the length of the WebSocket frame at the start of b,
// header included (RFC 6455 §5.2), or 0 when b does not yet hold its header.
func frameLength(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	header, payload := 2, int(b[1]&0x7f)
	switch payload {
	case 126:
		header = 4
		if len(b) < header {
			return 0
		}
		payload = int(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		header = 10
		if len(b) < header {
			return 0
		}
		n := binary.BigEndian.Uint64(b[2:10])
		if n > math.MaxInt32 {
			n = math.MaxInt32 // no frame the server writes comes near this
		}
		payload = int(n)
	}
	if b[1]&0x80 != 0 {
		header += 4 // masked: only clients mask, but the length is what it is
	}
	return header + payload
}
