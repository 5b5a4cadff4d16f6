package mailin

import (
	"bytes"
	"casegate/vocab"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTNEFMimeKitLists decodes MimeKit's winmail.dat samples and checks
// every file their .list names is found (MimeKit's own test does the same),
// with the size of the file MimeKit extracted where it ships one.
func TestTNEFMimeKitLists(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "mimekit", "UnitTests", "TestData", "tnef")
	lists, err := filepath.Glob(filepath.Join(dir, "*.list"))
	if err != nil || len(lists) < 15 {
		t.Fatalf("expected MimeKit's TNEF lists in %s, found %d (%v)", dir, len(lists), err)
	}
	for _, list := range lists {
		base := strings.TrimSuffix(list, ".list")
		t.Run(filepath.Base(base), func(t *testing.T) {
			raw, err := os.ReadFile(base + ".tnef")
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(list)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeTNEF(raw)
			if err != nil {
				// garbage-at-end is damaged on purpose (MimeKit expects
				// StreamTruncated): it must still yield what precedes it.
				if !errors.Is(err, ErrTNEF) {
					t.Fatalf("error not marked ErrTNEF: %v", err)
				}
				t.Logf("decoded with error: %v", err)
			}
			names := map[string][]byte{}
			for _, a := range got.Attachments {
				names[a.Filename] = a.Data
			}
			for _, name := range strings.Split(strings.ReplaceAll(string(want), "\r\n", "\n"), "\n") {
				name = strings.TrimSpace(name)
				if name == "" {
					continue
				}
				data, ok := names[name]
				if !ok {
					t.Errorf("attachment %q not found; decoded %v", name, attachmentNames(got.Attachments))
					continue
				}
				if extracted, err := os.ReadFile(filepath.Join(base, name)); err == nil && !sameExtract(data, extracted) {
					t.Errorf("attachment %q: %d bytes differ from the %d extracted upstream", name, len(data), len(extracted))
				}
			}
			if rtf, ok := names["body.rtf"]; ok {
				if !strings.HasPrefix(string(rtf), `{\rtf`) {
					t.Errorf("body.rtf does not start like RTF: %.40q", rtf)
				}
			}
		})
	}
}

func TestTNEFDamaged(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "mimekit", "UnitTests", "TestData", "tnef")
	raw, err := os.ReadFile(filepath.Join(dir, "two-files.tnef"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 3, 20, len(raw) / 2, len(raw) - 1} {
		if _, err := decodeTNEF(raw[:cut]); !errors.Is(err, ErrTNEF) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrTNEF", cut, err)
		}
	}
	if _, err := decodeTNEF([]byte("not tnef at all")); !errors.Is(err, ErrTNEF) {
		t.Errorf("garbage: err = %v, want ErrTNEF", err)
	}
}

func attachmentNames(as []vocab.Attachment) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Filename)
	}
	return out
}

// sameExtract compares a decoded file with the copy extracted upstream.
// Two differences are not ours: upstream's git stored text files with LF
// line ends, and its extractor kept the 16-byte interface id that starts a
// PT_OBJECT value (MS-OXTNEF §2.1.3.4), which MimeKit and we strip.
func sameExtract(got, extracted []byte) bool {
	if bytes.Equal(got, extracted) {
		return true
	}
	if bytes.Equal(bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n")), extracted) {
		return true
	}
	return len(extracted) == len(got)+16 && bytes.Equal(extracted[16:], got)
}
