package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// exportedNames is every metric a gateway can export, with TLS configured.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	m := newMetrics(nil, log, time.Now)
	m.registerReport(nil, &Config{}, log)
	m.observeReadiness(nil)
	cert := selfSignedCert(t)
	m.observeCertificate(&tls.Config{Certificates: []tls.Certificate{cert}})
	names := map[string]bool{}
	for _, n := range m.names() {
		names[n] = true
	}
	// Prometheus adds up for every target it scrapes.
	names["up"] = true
	return names
}

var metricName = regexp.MustCompile(`\b(casegate_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+|up)\b`)

// unknownMetrics returns the metric names in expr that the gateway does not
// export.
func unknownMetrics(expr string, names map[string]bool) []string {
	var bad []string
	for _, n := range metricName.FindAllString(expr, -1) {
		if !names[n] {
			bad = append(bad, n)
		}
	}
	return bad
}

// TestAlertingRules runs promtool's own checks and unit tests on the
// shipped alerting rules (monitoring/alerts_test.yml fires and clears each
// alert on made-up series), and checks that every metric the rules read
// is one casegate exports.
func TestAlertingRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (make test installs the Debian package prometheus): %v", err)
	}
	runTool(t, promtool, "check", "rules", "../../monitoring/alerts.yml")
	out := runTool(t, promtool, "test", "rules", "../../monitoring/alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
	rules, err := os.ReadFile("../../monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	names := exportedNames(t)
	if bad := unknownMetrics(string(rules), names); len(bad) > 0 {
		t.Errorf("alerts.yml reads metrics casegate does not export: %v", bad)
	}
	for _, alert := range []string{"CasegateNoMailFiled", "CasegateTemporaryFailures", "CasegateOutboxBacklog", "CasegateOutboxFailed",
		"CasegateEscalatedToPR", "CasegateNotReady", "CasegateCertificateExpiresSoon"} {
		if !strings.Contains(string(rules), "alert: "+alert+"\n") {
			t.Errorf("alerts.yml has no %s", alert)
		}
	}
}

// TestDashboardUsesExportedMetrics reads every query of the shipped Grafana
// dashboard and checks that each metric it names is one casegate exports.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../monitoring/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	names := exportedNames(t)
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Query)
	}
	used := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			used[n] = true
		}
		if bad := unknownMetrics(e, names); len(bad) > 0 {
			t.Errorf("dashboard query %q names metrics casegate does not export: %v", e, bad)
		}
	}
	if len(used) < 15 {
		t.Errorf("dashboard uses only %d metrics: %v", len(used), used)
	}
	// The check can fail: a misspelt name is caught.
	if bad := unknownMetrics(`rate(casegate_messages_recieved_total[5m])`, names); len(bad) != 1 {
		t.Errorf("a misspelt metric was not caught: %v", bad)
	}
	var list []string
	for n := range names {
		if strings.HasPrefix(n, "casegate_") {
			list = append(list, n)
		}
	}
	sort.Strings(list)
	t.Logf("casegate exports: %s", strings.Join(list, " "))
}

// selfSignedCert is a throwaway certificate valid for 90 days.
func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.support.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}
