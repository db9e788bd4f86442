package realtime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"
)

// recordConn is a net.Conn that records each write.
type recordConn struct {
	net.Conn
	writes [][]byte
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

// serverFrame builds an unmasked frame with an n-byte payload as RFC 6455
// lays it out.
func serverFrame(opcode byte, n int, fill byte) []byte {
	f := []byte{0x80 | opcode}
	switch {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xffff:
		f = append(f, 126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, bytes.Repeat([]byte{fill}, n)...)
}

// TestFrameConnWritesWholeFrames: however the library's small buffered
// writer splits a frame, the socket sees each frame in one write, nothing
// lost or reordered, and no buffer is held between frames.
func TestFrameConnWritesWholeFrames(t *testing.T) {
	rec := &recordConn{}
	fc := &frameConn{Conn: rec}
	bw := bufio.NewWriterSize(fc, writeBufferSize)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 20, 125, 126, 127, 300, 4000, 5000, 65535, 65536, 70000, 200000}
	var frames [][]byte
	for i, n := range sizes {
		f := serverFrame(0x1, n, byte('a'+i))
		frames = append(frames, f)
		// The library writes the header, then the payload, in pieces of its choosing.
		for rest := f; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(len(rest)))
			if _, err := bw.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if fc.buf != nil {
			t.Fatalf("after frame %d (%d bytes) a buffer is still held", i, n)
		}
	}
	if len(rec.writes) != len(frames) {
		t.Fatalf("%d writes for %d frames", len(rec.writes), len(frames))
	}
	for i := range frames {
		if !bytes.Equal(rec.writes[i], frames[i]) {
			t.Fatalf("write %d is %d bytes, want frame %d of %d bytes", i, len(rec.writes[i]), i, len(frames[i]))
		}
	}

	// Two frames written back to back before a flush: both go out, whole.
	rec.writes = nil
	two := append(serverFrame(0x9, 4, 'p'), serverFrame(0x1, 10, 'x')...)
	if _, err := bw.Write(two); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(rec.writes, nil); !bytes.Equal(got, two) {
		t.Fatalf("wrote %q, want %q", got, two)
	}
}

func TestFrameLength(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want int
	}{
		{nil, 0},
		{[]byte{0x81}, 0},
		{[]byte{0x81, 5}, 7},
		{[]byte{0x81, 0x85}, 11}, // masked
		{[]byte{0x81, 126, 1}, 0},
		{[]byte{0x81, 126, 1, 0}, 4 + 256},
		{[]byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0}, 0},
		{[]byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10 + 65536},
	} {
		if got := frameLength(tc.b); got != tc.want {
			t.Errorf("frameLength(%v) = %d, want %d", tc.b, got, tc.want)
		}
	}
}
