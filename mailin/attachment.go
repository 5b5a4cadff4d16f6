package mailin

import (
	"bytes"
	"casegate/vocab"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-message"
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
func readAttachment(in *vocab.Inbound, path []int, part *message.Entity) vocab.Attachment {
	var a vocab.Attachment
	// Chunks that double from 4 KB: a small attachment costs one small
	// allocation, a large one no buffer that doubles past what it needs.
	var chunks [][]byte
	var chunk []byte
	held := true
	for size := 4 << 10; ; size = min(2*size, 1<<20) {
		if held || chunk == nil {
			chunk = make([]byte, size)
		} // else only counting: the last chunk is scratch space
		n, err := io.ReadFull(part.Body, chunk)
		a.Size += n
		if held && a.Size > heldAttachmentBytes {
			held, chunks = false, nil // too large to hold: count the rest
		}
		if held && n > 0 {
			chunks = append(chunks, chunk[:n])
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
	data := []byte{}
	if len(chunks) == 1 {
		data = chunks[0]
	} else if len(chunks) > 1 {
		data = bytes.Join(chunks, nil)
	}
	a.Data = decodeOddEncoding(in, path, part.Header, data)
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
	var in vocab.Inbound
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
