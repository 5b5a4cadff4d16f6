package threads

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// tokenMAC is the HMAC of (case, role): 12 lower-case hex digits, since some
// mail systems lower-case local parts.
func tokenMAC(secret []byte, caseID int64, role Role) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(caseID, 10) + ":" + string(role)))
	return hex.EncodeToString(m.Sum(nil)[:6])
}

// replyLocalPart is the local part of a case's reply address:
// support+1042-<mac> (customer and staff) or support+1042-note-<mac>.
func replyLocalPart(base string, secret []byte, caseID int64, role Role) string {
	id := strconv.FormatInt(caseID, 10)
	if role == RoleNote {
		return base + "+" + id + "-note-" + tokenMAC(secret, caseID, role)
	}
	return base + "+" + id + "-" + tokenMAC(secret, caseID, role)
}

// parseReplyToken reads the detail of a reply address (the part after "+")
// and verifies its MAC. A forged or malformed token gives ok == false.
func parseReplyToken(secret []byte, detail string) (caseID int64, role Role, ok bool) {
	detail = strings.ToLower(detail)
	idText, mac, found := strings.Cut(detail, "-")
	if !found {
		return 0, "", false
	}
	caseID, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || caseID <= 0 {
		return 0, "", false
	}
	candidates := []Role{RoleCustomer, RoleStaff}
	if rest, isNote := strings.CutPrefix(mac, "note-"); isNote {
		mac, candidates = rest, []Role{RoleNote}
	}
	for _, r := range candidates {
		if hmac.Equal([]byte(mac), []byte(tokenMAC(secret, caseID, r))) {
			return caseID, r, true
		}
	}
	return 0, "", false
}
