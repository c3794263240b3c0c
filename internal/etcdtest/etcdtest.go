// Package etcdtest starts a real etcd server in-process (go.etcd.io/etcd/
// server/v3/embed) on 127.0.0.1 with generated certificates and client
// certificate authentication, for tests and the demo. It must never be
// imported by the backup job itself.
package etcdtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Certs are PEM files written into one directory.
type Certs struct {
	Dir        string
	CA         string // ca.crt
	CAKey      string // ca.key
	ServerCert string
	ServerKey  string
	ClientCert string
	ClientKey  string
}

// CertOptions change the generated client certificate.
type CertOptions struct {
	ClientNotBefore, ClientNotAfter time.Time
}

// GenerateCerts writes a CA, a server certificate for 127.0.0.1/localhost
// and a client certificate, all signed by the CA, into dir.
func GenerateCerts(dir string) (Certs, error) {
	return GenerateCertsWith(dir, CertOptions{})
}

// GenerateCertsWith is GenerateCerts with a client certificate validity of
// choice (for expired or not yet valid certificates).
func GenerateCertsWith(dir string, o CertOptions) (Certs, error) {
	c := Certs{
		Dir: dir, CA: filepath.Join(dir, "ca.crt"), CAKey: filepath.Join(dir, "ca.key"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return c, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcd-backup test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return c, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := writePair(c.CA, c.CAKey, caDER, caKey); err != nil {
		return c, err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, nb, na time.Time, server bool) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
			tmpl.DNSNames = []string{"localhost"}
			// The server certificate is used as a client certificate by
			// the backup job on kubeadm clusters (server.crt), as here.
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		return der, key, err
	}
	der, key, err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, now.Add(-time.Hour), now.Add(24*time.Hour), true)
	if err != nil {
		return c, err
	}
	if err := writePair(c.ServerCert, c.ServerKey, der, key); err != nil {
		return c, err
	}
	nb, na := o.ClientNotBefore, o.ClientNotAfter
	if nb.IsZero() {
		nb = now.Add(-time.Hour)
	}
	if na.IsZero() {
		na = now.Add(24 * time.Hour)
	}
	der, key, err = leaf(3, "etcd-backup", x509.ExtKeyUsageClientAuth, nb, na, false)
	if err != nil {
		return c, err
	}
	return c, writePair(c.ClientCert, c.ClientKey, der, key)
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// Server is a running etcd.
type Server struct {
	Certs    Certs
	Endpoint string // https://127.0.0.1:port
	etcd     *embed.Etcd
}

// Options for Start.
type Options struct {
	// QuotaBytes raises the backend quota (default etcd's 2 GiB).
	QuotaBytes int64
	// Logger is etcd's own logger; nil for none.
	Logger *zap.Logger
}

// Start runs etcd with its data and certificates under dir, listening on
// free ports of 127.0.0.1, with client certificate authentication on.
func Start(dir string, o Options) (*Server, error) {
	certs, err := GenerateCerts(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("generating certificates: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "etcd-backup-test"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.LogLevel = "error"
	if o.Logger != nil {
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(o.Logger)
	} else {
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	}
	if o.QuotaBytes > 0 {
		cfg.QuotaBackendBytes = o.QuotaBytes
	}
	// Port 0: the kernel picks free ports as etcd binds them, and one
	// member never dials its own peer URL.
	cu, _ := url.Parse("https://127.0.0.1:0")
	pu, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo = transport.TLSInfo{
		CertFile: certs.ServerCert, KeyFile: certs.ServerKey, TrustedCAFile: certs.CA, ClientCertAuth: true,
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed while starting: %w", err)
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after 30s")
	}
	return &Server{Certs: certs, Endpoint: "https://" + e.Clients[0].Addr().String(), etcd: e}, nil
}

// Close stops etcd.
func (s *Server) Close() { s.etcd.Close() }

// Client returns a client authenticated with the client certificate.
func (s *Server) Client() (*clientv3.Client, error) {
	tlsCfg, err := transport.TLSInfo{CertFile: s.Certs.ClientCert, KeyFile: s.Certs.ClientKey, TrustedCAFile: s.Certs.CA}.ClientConfig()
	if err != nil {
		return nil, err
	}
	return clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// Env is the backup job's configuration for this server.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"ETCD_BACKUP_ENDPOINTS": s.Endpoint,
		"ETCD_BACKUP_CACERT":    s.Certs.CA,
		"ETCD_BACKUP_CERT":      s.Certs.ClientCert,
		"ETCD_BACKUP_KEY":       s.Certs.ClientKey,
	}
}

// Seed puts n keys of valueSize bytes each under prefix, in batches.
func (s *Server) Seed(ctx context.Context, prefix string, n, valueSize int) error {
	cli, err := s.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	val := make([]byte, valueSize)
	// etcd takes at most 128 operations and about 1.5 MB in one request.
	batch := min(100, max(1, 1_000_000/max(valueSize, 1)))
	for i := 0; i < n; {
		var ops []clientv3.Op
		for j := 0; j < batch && i < n; j, i = j+1, i+1 {
			_, _ = rand.Read(val)
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%08d", prefix, i), string(val)))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("seeding keys: %w", err)
		}
	}
	return nil
}

// SaveSnapshot streams a snapshot of the server over the v3 API into a new
// file at path (0600); an existing file is an error, as for the backup job.
func (s *Server) SaveSnapshot(ctx context.Context, path string) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	return WriteSnapshot(ctx, c, path)
}

// WriteSnapshot streams a snapshot over the v3 API through c (any etcd
// member, embedded or a process) into a new file at path (0600).
func WriteSnapshot(ctx context.Context, c *clientv3.Client, path string) error {
	rc, err := c.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("starting the snapshot: %w", err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("saving the snapshot: %w", err)
	}
	return f.Close()
}

// SeededSnapshot starts an etcd under dir, puts n keys of valueSize bytes
// under prefix, lets more (nil for nothing) add what a test needs, saves a
// snapshot to path and stops the server.
func SeededSnapshot(ctx context.Context, dir, path, prefix string, n, valueSize int, more func(context.Context, *clientv3.Client) error) error {
	s, err := Start(dir, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Seed(ctx, prefix, n, valueSize); err != nil {
		return err
	}
	if more != nil {
		c, err := s.Client()
		if err != nil {
			return err
		}
		defer c.Close()
		if err := more(ctx, c); err != nil {
			return err
		}
	}
	return s.SaveSnapshot(ctx, path)
}
