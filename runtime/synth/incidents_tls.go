package synth

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// runTLSExpired: client → web (HTTP) → payments, an HTTPS service (TLS
// 1.2, as legacy payment gateways often pin it) whose certificate expires
// at the onset: its renewal never happened. web's Go client (crypto/tls,
// one connection per call) checks the certificate against the virtual
// clock; from the onset it refuses it with a fatal alert in the
// plaintext handshake, and web answers 502.
//
// The keys are Ed25519 from fixed seeds and both ends draw their
// randomness from fixed ChaCha8 streams; the records are the same every
// run, though not the bytes (crypto/tls draws some randomness of its own
// and flushes its records as HTTP/2 does, in cuts that vary).
func runTLSExpired(ctx context.Context, s *stage) (GroundTruth, error) {
	pay, web := newService("payments", "10.0.0.95:443"), newService("web", incFrontAt)
	const sni = "payments.shop.svc"
	onset := s.start.Add(incidentOnset * time.Second)
	ca, caKey, err := selfSignedCA(s.start)
	if err != nil {
		return GroundTruth{}, err
	}
	// Valid from a month before the capture until the onset.
	leaf, err := leafCert(ca, caKey, sni, s.start.Add(-30*24*time.Hour), onset.Add(-time.Nanosecond))
	if err != nil {
		return GroundTruth{}, err
	}
	pmux := http.NewServeMux()
	pay.handle(s.clock, pmux, "POST /v2/charges", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(6 * time.Millisecond)
		writeJSON(w, http.StatusCreated, map[string]any{"charge": "ch_" + r.Header.Get("Idempotency-Key"), "status": "captured"})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return GroundTruth{}, fmt.Errorf("listening for payments: %w", err)
	}
	srvTLS := &tls.Config{
		Certificates: []tls.Certificate{leaf}, MaxVersion: tls.VersionTLS12,
		SessionTicketsDisabled: true, Time: s.clock.Now, Rand: rand.NewChaCha8([32]byte{'s'}),
	}
	srv := &http.Server{Handler: pmux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)} // handshake refusals are the point
	s.servers = append(s.servers, srv)
	go srv.Serve(tls.NewListener(ln, srvTLS))
	relay, err := NewRelay(ln.Addr().String(), s.pw, RelayOptions{Server: pay.addr, Client: netip.MustParseAddr(incFrontIP), Clock: s.clock.Now, Logger: s.log})
	if err != nil {
		return GroundTruth{}, fmt.Errorf("relay for payments: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	toPay := httpClient()
	tr := toPay.Transport.(*http.Transport)
	// One handshake per call, as a client behind a connection-per-request
	// SDK makes them: every call shows the certificate check.
	tr.DisableKeepAlives = true
	tr.TLSClientConfig = &tls.Config{
		RootCAs: roots, ServerName: sni, Time: s.clock.Now, Rand: rand.NewChaCha8([32]byte{'c'}),
	}
	s.tiers = append(s.tiers, tier{relay, toPay})
	pay.base = "https://" + relay.Addr()

	wmux := http.NewServeMux()
	health(s.clock, web, wmux, "web/4.0")
	web.handle(s.clock, wmux, "POST /api/orders/{user}/pay", func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("user")
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, pay.base+"/v2/charges", nil)
		if err != nil {
			s.errs.set(err)
			return
		}
		req.Host = sni
		req.Header.Set("Idempotency-Key", user)
		resp, err := toPay.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		// The connection is closed after each call (and at once when the
		// handshake fails): the relay records the rest of it, the
		// client's alert and the closes, before the virtual clock moves
		// on, or a loaded machine would stamp them seconds late.
		waitIdle(relay)
		if err != nil {
			s.clock.Sleep(200 * time.Microsecond)
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": "payment provider unreachable", "cause": err.Error()})
			return
		}
		s.clock.Sleep(time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{"user": user, "paid": true})
	})
	client, err := s.serve(web, incClientIP, wmux)
	if err != nil {
		return GroundTruth{}, err
	}
	got, err := s.slots(ctx, func(bool) {}, func(n int, on bool) error {
		if _, _, err := send(ctx, client, http.MethodPost, web, "/api/orders/"+names[n%len(names)]+"/pay", map[string]string{"User-Agent": "shop-web/3.2"}, map[string]any{"amount": 10 + n}); err != nil {
			return err
		}
		if n%5 == 0 {
			s.pause(n, 1)
			_, _, err := send(ctx, client, http.MethodGet, web, "/health", map[string]string{"User-Agent": "kube-probe/1.31"}, nil)
			return err
		}
		return nil
	})
	return GroundTruth{
		Description: "web (10.0.0.10:8080) charges through payments (10.0.0.95:443) over HTTPS (TLS 1.2). payments' certificate for " + sni + " expires at the onset; from then web's TLS client refuses it with a fatal bad_certificate alert in the handshake and web answers 502.",
		Kind:        "errors", RootCause: pay.addr.String(), Onset: got,
		Evidence: Evidence{Method: "ClientHello", Path: sni, Status: 0, BodyContains: "bad_certificate"},
	}, err
}

// selfSignedCA is the cluster's private CA, valid a year around start.
func selfSignedCA(start time.Time) (*x509.Certificate, ed25519.PrivateKey, error) {
	key := ed25519.NewKeyFromSeed(seed32("incident CA"))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop internal CA"},
		NotBefore: start.Add(-365 * 24 * time.Hour), NotAfter: start.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the incident CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

// leafCert is a server certificate for name signed by ca.
func leafCert(ca *x509.Certificate, caKey ed25519.PrivateKey, name string, from, until time.Time) (tls.Certificate, error) {
	key := ed25519.NewKeyFromSeed(seed32(name))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: from, NotAfter: until,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(nil, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating the certificate of %s: %w", name, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func seed32(s string) []byte {
	b := make([]byte, ed25519.SeedSize)
	copy(b, s)
	return b
}
