package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/kpid/kpid/internal/blackbox"
)

// selfSignedCert writes a certificate and key for 127.0.0.1 and localhost
// into dir and returns their paths and a pool that trusts the certificate.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kpid test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndBasicAuth: with a --web.config.file turning on TLS and bcrypt
// basic auth, every endpoint refuses requests without credentials, with a
// wrong password or an unknown user, and plain HTTP; it serves the same
// requests with the right credentials over TLS. kpid sync, recompute and
// backup reach such a daemon with --web.username/--web.password-file.
func TestTLSAndBasicAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := blackbox.Binary(t)
	sims := startSims(t)
	dir := t.TempDir()
	cfg := writeDemoConfig(t, dir, sims)

	secretDir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, secretDir)
	const user, password = "prometheus", "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(secretDir, "web.yml")
	writeFile(t, webConfig, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
		certFile, keyFile, user, hash))
	passwordFile := filepath.Join(secretDir, "password")
	writeFile(t, passwordFile, password+"\n")

	p := startKpid(t, bin, cfg, "tls.log", "--web.enable-lifecycle", "--web.config.file="+webConfig)
	base := strings.Replace(p.base, "http://", "https://", 1)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(method, path, u, pw string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if u != "" {
			req.SetBasicAuth(u, pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s %s: 401 without a Basic challenge", method, path)
		}
		return resp.StatusCode, string(b)
	}

	// Wait for the first syncs, authenticated.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := do("GET", "/metrics", user, password)
		if code == 200 && syncsPending(body) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not synced: %d\n%s", code, tail(p.log(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}

	endpoints := []struct {
		method, path string
		want         string // in the authenticated answer
	}{
		{"GET", "/metrics", "kpi_value{"},
		{"GET", "/", "acme-github"},
		{"GET", "/-/healthy", "healthy"},
		{"GET", "/-/ready", "ready"},
		{"POST", "/-/reload", "config reloaded"},
		{"POST", "/-/sync?connector=acme-hubspot", "sync finished"},
		{"POST", "/-/recompute", "recompute finished"},
		{"GET", "/-/backup", ""},
	}
	for _, e := range endpoints {
		t.Run(e.method+" "+e.path, func(t *testing.T) {
			for _, c := range []struct{ name, user, password string }{
				{"no credentials", "", ""},
				{"wrong password", user, "Tr0ub4dor&3"},
				{"unknown user", "mallory", password},
				{"empty password", user, ""},
			} {
				if code, body := do(e.method, e.path, c.user, c.password); code != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401 (%.80q)", c.name, code, body)
				}
			}
			// Plain HTTP on the TLS port is refused too.
			req, _ := http.NewRequest(e.method, p.base+e.path, nil)
			req.SetBasicAuth(user, password)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "kpi") {
					t.Errorf("plain HTTP: %d %.80q, want 400", resp.StatusCode, b)
				}
			}
			code, body := do(e.method, e.path, user, password)
			if code != http.StatusOK || !strings.Contains(body, e.want) {
				t.Errorf("authenticated: %d %.120q, want 200 with %q", code, body, e.want)
			}
			if e.path == "/-/backup" && len(body) < 16384 {
				t.Errorf("backup is %d bytes: not the store", len(body))
			}
		})
	}

	// The CLI reaches the daemon over TLS with basic auth.
	ctx := context.Background()
	for _, args := range [][]string{
		{"sync", "--config", cfg, "--connector", "acme-jira"},
		{"recompute", "--config", cfg},
		{"backup", "--config", cfg, "--out", filepath.Join(t.TempDir(), "backup.db")},
	} {
		var out, errb bytes.Buffer
		args = append(args, "--web.username", user, "--web.password-file", passwordFile)
		if code := run(ctx, args, strings.NewReader(""), &out, &errb); code != 0 {
			t.Errorf("kpid %s: exit %d: %s %s", args[0], code, out.String(), errb.String())
		}
	}
	// Without credentials it is refused, in one line.
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"recompute", "--config", cfg}, strings.NewReader(""), &out, &errb); code != exitRuntime ||
		!strings.Contains(errb.String(), "401") || strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
		t.Errorf("recompute without credentials: exit %d, %q", code, errb.String())
	}
	if strings.Contains(p.log(), password) {
		t.Error("password logged")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// TestDaemonClientPinsTheWebConfigCertificate: the CLI trusts the daemon's
// certificate named by its web config (a relative cert_file included) and
// nothing else.
func TestDaemonClientPinsTheWebConfigCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "served.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	other, _, _ := selfSignedCert(t, t.TempDir())
	for _, c := range []struct {
		name, webConfig, wantErr string
	}{
		{"served certificate, relative path", "tls_server_config:\n  cert_file: served.pem\n  key_file: k.pem\n", ""},
		{"another certificate", "tls_server_config:\n  cert_file: " + other + "\n  key_file: k.pem\n", "is not the one"},
		{"no certificate file", "tls_server_config:\n  cert_file: missing.pem\n  key_file: k.pem\n", "read the daemon's certificate"},
		{"TLS turned off since", "basic_auth_users: {}\n", "no longer turns TLS on"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wc := filepath.Join(dir, "web.yml")
			writeFile(t, wc, c.webConfig)
			info := &daemonInfo{URL: srv.URL, WebConfig: wc}
			client, err := info.httpClient(5 * time.Second)
			if err == nil {
				var resp *http.Response
				resp, err = client.Get(srv.URL)
				if err == nil {
					resp.Body.Close()
				}
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("error %v, want %q", err, c.wantErr)
			}
		})
	}
}
