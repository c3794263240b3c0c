package drill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/etcd-backup/etcd-backup/internal/verify"
)

const (
	memberName = "drill"
	// loopback with port 0: the kernel picks a free port as etcd binds it,
	// and nothing outside the pod (or the host) can reach the listener. A
	// single member never dials its own peer URL.
	loopback = "http://127.0.0.1:0"
	// kubeSystem is the key every Kubernetes cluster's etcd holds.
	kubeSystem = "/registry/namespaces/kube-system"
)

// server is the throwaway etcd serving the restored member.
type server struct {
	etcd     *embed.Etcd
	endpoint string
	// closing silences etcd's log: its listeners report their own
	// shutdown as errors.
	closing *atomic.Bool
}

// quietWhenClosing drops etcd's log records once the server is closing.
type quietWhenClosing struct {
	zapcore.Core
	closing *atomic.Bool
}

func (q quietWhenClosing) With(f []zapcore.Field) zapcore.Core {
	return quietWhenClosing{Core: q.Core.With(f), closing: q.closing}
}

func (q quietWhenClosing) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.closing.Load() {
		return ce
	}
	return q.Core.Check(e, ce)
}

// start serves dataDir with a single-member etcd listening on 127.0.0.1
// only, and waits until it is ready.
func start(ctx context.Context, dataDir string, timeout time.Duration, log *zap.Logger) (*server, error) {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = memberName, dataDir
	closing := &atomic.Bool{}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return quietWhenClosing{Core: c, closing: closing}
	})))
	u, err := url.Parse(loopback)
	if err != nil {
		return nil, err
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*u}, []url.URL{*u}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*u}, []url.URL{*u}
	cfg.InitialCluster = memberName + "=" + loopback
	// A snapshot larger than etcd's default quota must still be served; the
	// drill writes nothing.
	cfg.QuotaBackendBytes = 8 << 30
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd does not start on the restored data: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed while starting on the restored data: %w", err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("etcd on the restored data was not ready after %s", timeout)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("etcd on the restored data was starting: %w", ctx.Err())
	}
	return &server{etcd: e, endpoint: "http://" + e.Clients[0].Addr().String(), closing: closing}, nil
}

func (s *server) close() {
	s.closing.Store(true)
	s.etcd.Close()
}

// check reads the restored data back through the client API and compares
// it with the snapshot's own figures.
func check(ctx context.Context, s *server, o Options, want verify.Status) (Checks, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints: []string{s.endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop(),
		Username: o.Username, Password: o.Password, MaxCallRecvMsgSize: math.MaxInt32,
	})
	if err != nil {
		return Checks{}, fmt.Errorf("connecting to the throwaway etcd: %w", err)
	}
	defer c.Close()
	res := Checks{KubeSystem: "not checked"}
	// Every read is at the snapshot's revision: a lease that expires while
	// the drill runs must not change what is counted.
	count, err := c.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly(), clientv3.WithRev(want.Revision))
	if err != nil {
		return res, fmt.Errorf("counting the keys at revision %d: %w", want.Revision, err)
	}
	res.Revision, res.KeysCounted = count.Header.Revision, count.Count
	if res.Revision != want.Revision {
		return res, fmt.Errorf("etcd serves revision %d, the snapshot's is %d", res.Revision, want.Revision)
	}
	if err := readAll(ctx, c, o.PageSize, want.Revision, &res); err != nil {
		return res, err
	}
	if res.KeysCounted != int64(want.TotalKey) || res.KeysRead != int64(want.TotalKey) {
		return res, fmt.Errorf("etcd counts %d keys and a full read returned %d, the snapshot holds %d", res.KeysCounted, res.KeysRead, want.TotalKey)
	}
	if !o.Kubernetes {
		return res, nil
	}
	ns, err := c.Get(ctx, kubeSystem, clientv3.WithRev(want.Revision), clientv3.WithCountOnly())
	if err != nil {
		return res, fmt.Errorf("reading %s: %w", kubeSystem, err)
	}
	if ns.Count != 1 {
		res.KubeSystem = "missing"
		return res, errors.New(kubeSystem + " is not in the snapshot: not a Kubernetes cluster's etcd? (--kubernetes=false drills any etcd)")
	}
	res.KubeSystem = "found"
	return res, nil
}

// readAll reads every key and value at rev, a page at a time, so that
// memory holds one page rather than the database.
func readAll(ctx context.Context, c *clientv3.Client, page, rev int64, res *Checks) error {
	key := "\x00"
	for {
		r, err := c.Get(ctx, key, clientv3.WithFromKey(), clientv3.WithLimit(page), clientv3.WithRev(rev))
		if err != nil {
			return fmt.Errorf("reading the keys from %q at revision %d: %w", key, rev, err)
		}
		for _, kv := range r.Kvs {
			res.KeysRead++
			res.BytesRead += int64(len(kv.Key) + len(kv.Value))
		}
		if !r.More || len(r.Kvs) == 0 {
			return nil
		}
		key = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
}
