//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// server is an etcd server process.
type server struct {
	cmd      *exec.Cmd
	endpoint string
	certs    etcdtest.Certs
	dataDir  string
	version  string
	exited   chan error
}

// startEtcd runs the etcd binary on free ports of 127.0.0.1 with TLS and
// client certificate authentication. noFsync is for the fill only.
func startEtcd(ctx context.Context, bin, dataDir, logPath string, certs etcdtest.Certs, quota int64, noFsync bool) (*server, error) {
	ports, err := testkit.FreePorts(2)
	if err != nil {
		return nil, err
	}
	cport, pport := ports[0], ports[1]
	client := "https://127.0.0.1:" + strconv.Itoa(cport)
	peer := "http://127.0.0.1:" + strconv.Itoa(pport)
	args := []string{
		"--name", "bench", "--data-dir", dataDir,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "bench=" + peer,
		"--cert-file", certs.ServerCert, "--key-file", certs.ServerKey,
		"--trusted-ca-file", certs.CA, "--client-cert-auth",
		"--quota-backend-bytes", strconv.FormatInt(quota, 10),
		"--max-request-bytes", strconv.Itoa(maxRequest + 1<<20),
		"--max-txn-ops", "10000",
		// Few raft snapshots but enough to let old WAL files go, so that
		// the data directory is not twice the database.
		"--snapshot-count", "200",
		"--log-level", "warn", "--log-outputs", "stderr",
	}
	if noFsync {
		args = append(args, "--unsafe-no-fsync")
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &server{cmd: cmd, endpoint: client, certs: certs, dataDir: dataDir, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cli, err := s.client()
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			var st *clientv3.StatusResponse
			st, err = cli.Status(sctx, client)
			cancel()
			cli.Close()
			if err == nil {
				s.version = "v" + st.Version
				return s, nil
			}
		}
		select {
		case werr := <-s.exited:
			return nil, fmt.Errorf("etcd exited while starting (%v); see %s", werr, logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("etcd not ready after 60s (last error %v); see %s", err, logPath)
		}
	}
}

func (s *server) client() (*clientv3.Client, error) {
	tlsCfg, err := transport.TLSInfo{CertFile: s.certs.ClientCert, KeyFile: s.certs.ClientKey, TrustedCAFile: s.certs.CA}.ClientConfig()
	if err != nil {
		return nil, err
	}
	return clientv3.New(clientv3.Config{
		Endpoints: []string{s.endpoint}, TLS: tlsCfg, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(), MaxCallSendMsgSize: maxRequest + 1<<20,
	})
}

// stop ends etcd gracefully (SIGTERM), killing it after 30s.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) dbPath() string { return filepath.Join(s.dataDir, "member", "snap", "db") }

func (s *server) dbSize(ctx context.Context, cli *clientv3.Client) (int64, error) {
	st, err := cli.Status(ctx, s.endpoint)
	if err != nil {
		return 0, fmt.Errorf("asking etcd for its status: %w", err)
	}
	return st.DbSize, nil
}

// maxRequest bounds the bytes of one fill transaction.
const maxRequest = 4 << 20

// fillInfo is what a filled data directory holds; it is kept next to it so
// that a later run can reuse the directory.
type fillInfo struct {
	TargetBytes int64   `json:"target_bytes"`
	ValueSize   int     `json:"value_size"`
	Keys        int64   `json:"keys"`
	DBSize      int64   `json:"db_size"`
	Seconds     float64 `json:"seconds"`
}

// fillWorker writes transactions of perTxn random values until ctx ends;
// keys are numbered from next, bytes counted in written.
func fillWorker(ctx context.Context, cli *clientv3.Client, w, valueSize, perTxn int, next, written *atomic.Int64, fail func(error)) {
	rng := rand.NewChaCha8([32]byte{byte(w)})
	val := make([]byte, valueSize)
	ops := make([]clientv3.Op, 0, perTxn)
	for ctx.Err() == nil {
		ops = ops[:0]
		for range perTxn {
			_, _ = rng.Read(val)
			i := next.Add(1)
			key := fmt.Sprintf("/registry/bench/ns-%04d/object-%09d", i%1000, i)
			ops = append(ops, clientv3.OpPut(key, string(val)))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("filling etcd: %w", err))
			}
			return
		}
		written.Add(int64(perTxn * valueSize))
	}
}

// fill puts keys of valueSize random bytes, several transactions at a
// time, until the database reaches target bytes. Keys look like the ones a
// Kubernetes API server writes.
func fill(ctx context.Context, s *server, target int64, valueSize int) (fillInfo, error) {
	start := time.Now()
	cli, err := s.client()
	if err != nil {
		return fillInfo{}, err
	}
	defer cli.Close()
	perTxn := max(1, min(10000, maxRequest/(valueSize+64)))
	var next atomic.Int64
	var written atomic.Int64
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	for w := range 4 {
		wg.Go(func() { fillWorker(ctx, cli, w, valueSize, perTxn, &next, &written, fail) })
	}
	var size int64
	lastReport := time.Now()
	for ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		if size, err = s.dbSize(ctx, cli); err != nil {
			if ctx.Err() == nil {
				fail(err)
			}
			break
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			fmt.Printf("  fill: %.0f MB of values, db %.0f MB, %.0fs\n", float64(written.Load())/1e6, float64(size)/1e6, time.Since(start).Seconds())
		}
		if size >= target {
			cancel()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return fillInfo{}, firstErr
	}
	if parent.Err() != nil {
		return fillInfo{}, parent.Err()
	}
	// The workers' last transactions may have landed after the last look.
	if size, err = s.dbSize(context.Background(), cli); err != nil {
		return fillInfo{}, err
	}
	if size < target {
		return fillInfo{}, errors.New("fill stopped before the database reached its size")
	}
	resp, err := cli.Get(context.Background(), "/registry/bench/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fillInfo{}, fmt.Errorf("counting keys: %w", err)
	}
	return fillInfo{TargetBytes: target, ValueSize: valueSize, Keys: resp.Count, DBSize: size, Seconds: time.Since(start).Seconds()}, nil
}

func readFillInfo(path string) (fillInfo, bool) {
	var fi fillInfo
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &fi) != nil {
		return fi, false
	}
	return fi, true
}
