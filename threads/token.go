package threads

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"casegate/vocab"
)

// tokenMAC is the HMAC of (case, role): 12 lower-case hex digits, since some
// mail systems lower-case local parts.
func tokenMAC(secret []byte, caseID int64, role vocab.Role) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(caseID, 10) + ":" + string(role)))
	return hex.EncodeToString(m.Sum(nil)[:6])
}

// replyLocalPart is the local part of a case's reply address:
// support+1042-<mac> (customer and staff) or support+1042-note-<mac>.
func replyLocalPart(base string, secret []byte, caseID int64, role vocab.Role) string {
	id := strconv.FormatInt(caseID, 10)
	if role == vocab.RoleNote {
		return base + "+" + id + "-note-" + tokenMAC(secret, caseID, role)
	}
	return base + "+" + id + "-" + tokenMAC(secret, caseID, role)
}

// parseReplyToken reads the detail of a reply address (the part after "+")
// and verifies its MAC against the secrets, the current one first.
// current is false for a token only a previous (rotated) secret signed:
// recognised, so that its sender can be told it is stale, but not valid.
// A forged or malformed token gives ok == false.
func parseReplyToken(secrets [][]byte, detail string) (caseID int64, role vocab.Role, current, ok bool) {
	detail = strings.ToLower(detail)
	idText, mac, found := strings.Cut(detail, "-")
	if !found {
		return 0, "", false, false
	}
	caseID, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || caseID <= 0 {
		return 0, "", false, false
	}
	candidates := []vocab.Role{vocab.RoleCustomer, vocab.RoleStaff}
	if rest, isNote := strings.CutPrefix(mac, "note-"); isNote {
		mac, candidates = rest, []vocab.Role{vocab.RoleNote}
	}
	for i, secret := range secrets {
		for _, r := range candidates {
			if hmac.Equal([]byte(mac), []byte(tokenMAC(secret, caseID, r))) {
				return caseID, r, i == 0, true
			}
		}
	}
	return 0, "", false, false
}

// tokenCaseNumber is the case number a reply address's detail names
// ("1042-<mac>", "1042-note-<mac>"), whether its MAC verifies or not; 0
// for details of another form (bounce addresses, anything else).
func tokenCaseNumber(detail string) int64 {
	idText, mac, found := strings.Cut(detail, "-")
	if !found || mac == "" {
		return 0
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}
