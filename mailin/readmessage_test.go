package mailin

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// TestReadMessage: with or without an announced size, whatever the reads
// return at a time, the message comes back byte for byte; a failed read
// says how much arrived.
func TestReadMessage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 3 << 20, 25<<20 + 7} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.IntN(256))
		}
		for _, size := range []int64{0, int64(n)} {
			for name, r := range map[string]io.Reader{
				"whole": bytes.NewReader(msg), "half": iotest.HalfReader(bytes.NewReader(msg)),
				"eof with data": iotest.DataErrReader(bytes.NewReader(msg)),
			} {
				got, read, err := readMessage(r, size)
				if err != nil || read != n || !bytes.Equal(got, msg) {
					t.Errorf("%d bytes, SIZE %d, %s reads: got %d bytes (read %d), equal %v, err %v", n, size, name, len(got), read, bytes.Equal(got, msg), err)
				}
			}
		}
	}
	boom := errors.New("connection reset")
	_, read, err := readMessage(io.MultiReader(bytes.NewReader(make([]byte, 100<<10)), iotest.ErrReader(boom)), 0)
	if !errors.Is(err, boom) || read != 100<<10 {
		t.Errorf("a failed read: %d bytes, err %v", read, err)
	}
}
