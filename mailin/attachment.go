package mailin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-message"

	"casegate/threads"
)

// heldAttachmentBytes is the most of one attachment Parse keeps decoded in
// memory: all that a staff notification forwards (threads sends at most
// 10 MiB of attachments with one). A larger attachment is only measured as
// it streams past; should a staff relay send it on, Attachment.Load decodes
// it again from the raw message. So a 25 MB upload is not held a second
// time, decoded, while the gateway files it.
const heldAttachmentBytes = 10 << 20

// readAttachment decodes the body of part, keeping it only when it is at
// most heldAttachmentBytes long.
func readAttachment(in *threads.Inbound, path []int, part *message.Entity) threads.Attachment {
	var a threads.Attachment
	var chunks [][]byte
	buf := make([]byte, 32<<10)
	held := true
	for {
		n, err := io.ReadFull(part.Body, buf)
		if n > 0 {
			a.Size += n
			if held && a.Size > heldAttachmentBytes {
				held, chunks = false, nil // too large to hold: count the rest
			}
			if held {
				chunks = append(chunks, bytes.Clone(buf[:n]))
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			in.Problems = append(in.Problems, fmt.Sprintf("attachment %v: %v", path, err))
			break
		}
	}
	if !held {
		raw, at := in.Raw, slices.Clone(path)
		a.Load = func() ([]byte, error) { return attachmentAt(raw, at) }
		return a
	}
	a.Data = decodeOddEncoding(in, path, part.Header, bytes.Join(chunks, nil))
	a.Size = len(a.Data)
	return a
}

var errFound = errors.New("found")

// attachmentAt decodes the attachment at path of raw again, whole.
func attachmentAt(raw []byte, path []int) ([]byte, error) {
	parseable, _ := repairForParsing(raw)
	e, err := message.Read(bytes.NewReader(parseable))
	if err != nil && e == nil {
		return nil, err
	}
	var data []byte
	var in threads.Inbound
	root := splitMessage(parseable, e.Header, bodyStart(parseable), splitLimits{parts: maxParts, depth: maxDepth})
	err = walkParts(root, nil, func(p []int, part *message.Entity, _ error) error {
		if !slices.Equal(p, path) || part == nil {
			return nil
		}
		b, rerr := io.ReadAll(part.Body)
		if rerr != nil {
			return rerr
		}
		data = decodeOddEncoding(&in, p, part.Header, b)
		return errFound
	})
	if errors.Is(err, errFound) {
		return data, nil
	}
	if err == nil {
		err = fmt.Errorf("no part %v", path)
	}
	return nil, fmt.Errorf("attachment %v: %w", path, err)
}
