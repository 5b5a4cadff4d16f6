package mailin

import (
	"casegate/vocab"
	"fmt"

	"github.com/emersion/go-message"

	"bytes"
	"errors"
	"strings"
)

// Eudora and other old mailers send attachments with the non-standard
// Content-Transfer-Encoding x-uuencode, which go-message does not know and
// hands over undecoded. The format is small and fixed (POSIX uuencode), so
// it is decoded here rather than showing staff a broken file.

func isUUEncoding(cte string) bool {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "x-uuencode", "uuencode", "x-uue", "uue":
		return true
	}
	return false
}

var errUUNoBegin = errors.New("uuencode: no begin line")

// decodeUU decodes the first "begin … end" block of b.
func decodeUU(b []byte) ([]byte, error) {
	lines := bytes.Split(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"))
	i := 0
	for ; i < len(lines); i++ {
		if bytes.HasPrefix(lines[i], []byte("begin ")) {
			break
		}
	}
	if i == len(lines) {
		return nil, errUUNoBegin
	}
	var out []byte
	for _, line := range lines[i+1:] {
		if bytes.Equal(bytes.TrimSpace(line), []byte("end")) || len(line) == 0 {
			if len(line) == 0 {
				continue
			}
			break
		}
		n := int((line[0] - ' ') & 0x3f)
		if n == 0 {
			continue
		}
		data := line[1:]
		var chunk []byte
		for j := 0; j+3 < len(data)+3 && len(chunk) < n; j += 4 {
			var c [4]byte
			for k := 0; k < 4; k++ {
				if j+k < len(data) {
					c[k] = (data[j+k] - ' ') & 0x3f
				}
			}
			chunk = append(chunk, c[0]<<2|c[1]>>4, c[1]<<4|c[2]>>2, c[2]<<6|c[3])
		}
		if len(chunk) > n {
			chunk = chunk[:n]
		}
		out = append(out, chunk...)
	}
	return out, nil
}

// decodeOddEncoding decodes the transfer encodings go-message leaves
// alone; today x-uuencode.
func decodeOddEncoding(in *vocab.Inbound, path []int, h message.Header, b []byte) []byte {
	if !isUUEncoding(h.Get("Content-Transfer-Encoding")) {
		return b
	}
	out, err := decodeUU(b)
	if err != nil {
		in.Problems = append(in.Problems, fmt.Sprintf("part %v: %v; kept undecoded", path, err))
		return b
	}
	return out
}
