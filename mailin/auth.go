package mailin

import (
	"bytes"
	"casegate/vocab"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// AuthOptions configures sender authentication. Zero values are the
// documented defaults.
type AuthOptions struct {
	// LookupTXT resolves DNS TXT records for DKIM keys and DMARC policies;
	// default net.DefaultResolver.LookupTXT. Tests serve records from a
	// function or a loopback DNS server.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// SPF checks the connecting IP against the envelope sender's SPF record
	// (RFC 7208). Only meaningful when casegate is the MX itself: behind
	// another MX the IP is the MX's.
	SPF bool
	// SPFResolver is the resolver for SPF; default net.DefaultResolver.
	SPFResolver spf.DNSResolver
	// Timeout bounds all DNS work for one message; default 10 seconds. A
	// timeout withholds authority; it never delays or rejects the mail
	// beyond that.
	Timeout time.Duration
	// MaxSignatures is how many DKIM signatures are checked; default 5.
	MaxSignatures int
	// TrustedAuthservID names the upstream MX (RFC 8601 authserv-id) whose
	// Authentication-Results casegate believes, and only as a trusted relay
	// added them (see relayAuthResults). Empty: believe none. Results under
	// any other id are not ours and are ignored.
	TrustedAuthservID string
}

// Client describes the connection a message came in on.
type Client struct {
	IP   net.IP // the SMTP client's address, for SPF; nil when unknown (IMAP, a unix socket)
	Helo string // its EHLO name; "" when unknown
	// TrustedRelay: the client is a relay the admin trusts to have written
	// the Authentication-Results it added on top (RFC 8601 §5): a client
	// in [staff] trusted_networks, or the MTA on the LMTP socket.
	TrustedRelay bool
}

// Authenticator fills vocab.Inbound.Auth from DKIM (RFC 6376), SPF
// (RFC 7208), DMARC alignment (RFC 7489 §3.1, relaxed: same organizational
// domain) and a trusted upstream's Authentication-Results (RFC 8601).
type Authenticator struct {
	opts AuthOptions
}

// NewAuthenticator returns an Authenticator with opts' defaults applied.
func NewAuthenticator(opts AuthOptions) *Authenticator {
	if opts.LookupTXT == nil {
		opts.LookupTXT = net.DefaultResolver.LookupTXT
	}
	if opts.SPFResolver == nil {
		opts.SPFResolver = net.DefaultResolver
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxSignatures == 0 {
		opts.MaxSignatures = 5
	}
	return &Authenticator{opts: opts}
}

// Check verifies in's sender and sets in.Auth; client describes the
// connection it came in on. It never fails: a DNS failure only leaves
// authority withheld and is noted in the summary.
//
// Authentication-Results fields claiming our authserv-id that no trusted
// relay added are never read (relayAuthResults); each such message gets
// in.Auth.Forged and a problem, which filing puts on the case's timeline.
func (a *Authenticator) Check(ctx context.Context, in *vocab.Inbound, client Client) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	defer func() {
		if in.Auth.Summary != "" {
			notes = append([]string{in.Auth.Summary}, notes...)
		}
		in.Auth.Summary = strings.Join(notes, "; ")
	}()
	ip, helo := client.IP, client.Helo

	upstream, forged, others := relayAuthResults(in.Raw, a.opts.TrustedAuthservID, client.TrustedRelay)
	if others > 0 {
		note("ignored %d untrusted Authentication-Results (not our authserv-id)", others)
	}
	if forged > 0 {
		why := fmt.Sprintf("%d Authentication-Results field(s) claiming our authserv-id %s were not added by a trusted relay: removed, not believed (RFC 8601 §5)",
			forged, a.opts.TrustedAuthservID)
		in.Auth.Forged = why
		in.Problems = append(in.Problems, why)
		note("%s", why)
	}

	_, fromDomain, _ := strings.Cut(strings.ToLower(in.From.Address), "@")
	if in.MultipleFrom || fromDomain == "" {
		// RFC 7489 §6.6.1: no single author domain, nothing to align with.
		note("no single From domain: no authority")
		return
	}
	fromOrg := orgDomain(fromDomain)
	lookup := func(name string) ([]string, error) { return a.opts.LookupTXT(ctx, name) }

	// A trusted relay's verdicts. A DMARC result counts only if none of the
	// relay's results for the From domain disagrees.
	if len(upstream) > 0 {
		dmarcPass, dmarcOther := false, false
		for _, value := range upstream {
			_, results, err := authres.Parse(stripComments(value))
			if err != nil {
				note("upstream Authentication-Results partly unreadable: %v", err)
			}
			for _, r := range results {
				switch r := r.(type) {
				case *authres.DKIMResult:
					if r.Value == authres.ResultPass && orgDomain(strings.ToLower(r.Domain)) == fromOrg {
						in.Auth.DKIMAligned = true
					}
				case *authres.DMARCResult:
					if strings.EqualFold(r.From, fromDomain) {
						dmarcPass = dmarcPass || r.Value == authres.ResultPass
						dmarcOther = dmarcOther || r.Value != authres.ResultPass
					}
				}
			}
		}
		in.Auth.DMARCPass = dmarcPass && !dmarcOther
		note("upstream %s: dkim aligned=%t dmarc=%t", a.opts.TrustedAuthservID, in.Auth.DKIMAligned, in.Auth.DMARCPass)
	}

	// Our own DKIM verification on the bytes as received.
	var dkimDomains []string
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(in.Raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: a.opts.MaxSignatures})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		note("dkim=permerror (%v)", err)
	} else if errors.Is(err, dkim.ErrTooManySignatures) {
		note("dkim: only the first %d signatures checked", a.opts.MaxSignatures)
	}
	for _, v := range verifs {
		d := strings.ToLower(v.Domain)
		switch {
		case v.Err == nil:
			aligned := orgDomain(d) == fromOrg
			note("dkim=pass d=%s aligned=%t", d, aligned)
			if aligned {
				in.Auth.DKIMAligned = true
				dkimDomains = append(dkimDomains, d)
			}
		case dkim.IsTempFail(v.Err):
			note("dkim=temperror d=%s", d)
		default:
			note("dkim=fail d=%s (%v)", d, v.Err)
		}
	}
	if len(verifs) == 0 && err == nil {
		note("dkim=none")
	}

	// SPF on the connecting IP, when we are the MX.
	var spfDomain string
	if a.opts.SPF && ip != nil {
		sender := in.EnvelopeFrom
		if sender == "" {
			sender = "postmaster@" + helo
		}
		res, err := spf.CheckHostWithSender(ip, helo, sender, spf.WithContext(ctx), spf.WithResolver(a.opts.SPFResolver))
		_, d, _ := strings.Cut(strings.ToLower(sender), "@")
		note("spf=%s smtp.mailfrom=%s", res, d)
		if err != nil && res != spf.Pass {
			note("spf error: %v", err)
		}
		if res == spf.Pass && orgDomain(d) == fromOrg {
			spfDomain = d
		}
	}

	// DMARC: an aligned pass under the From domain's published policy.
	if len(dkimDomains) == 0 && spfDomain == "" {
		return
	}
	rec, err := dmarc.LookupWithOptions(fromDomain, &dmarc.LookupOptions{LookupTXT: lookup})
	if errors.Is(err, dmarc.ErrNoPolicy) && fromOrg != fromDomain {
		rec, err = dmarc.LookupWithOptions(fromOrg, &dmarc.LookupOptions{LookupTXT: lookup})
	}
	if err != nil {
		note("dmarc=none (%v)", err)
		return
	}
	strictOK := func(mode dmarc.AlignmentMode, domains ...string) bool {
		for _, d := range domains {
			if d != "" && (mode != dmarc.AlignmentStrict || d == fromDomain) {
				return true
			}
		}
		return false
	}
	if strictOK(rec.DKIMAlignment, dkimDomains...) || strictOK(rec.SPFAlignment, spfDomain) {
		in.Auth.DMARCPass = true
		note("dmarc=pass header.from=%s p=%s", fromDomain, rec.Policy)
	} else {
		note("dmarc=fail header.from=%s (strict alignment)", fromDomain)
	}
}

// orgDomain is the organizational domain of d (RFC 7489 §3.2), from the
// Public Suffix List compiled into x/net.
func orgDomain(d string) string {
	d = strings.TrimSuffix(d, ".")
	if org, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return org
	}
	return d
}
