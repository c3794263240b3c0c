package etcdtest

import (
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Restored is a real etcd serving a restored snapshot, over plain HTTP on
// 127.0.0.1.
type Restored struct {
	// Endpoint is host:port of the client listener.
	Endpoint string
	etcd     *embed.Etcd
}

// Restore restores snap with etcd's own restore code (etcdutl snapshot
// restore) into dir and serves the result with a real etcd.
func Restore(snap, dir string) (*Restored, error) {
	// Port 0 everywhere: one member never dials its peer URL, and the
	// restored membership only has to agree with what etcd is given.
	const peer = "http://127.0.0.1:0"
	dataDir := filepath.Join(dir, "restored")
	if err := snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath: snap, Name: "restored", OutputDataDir: dataDir,
		PeerURLs: []string{peer}, InitialCluster: "restored=" + peer, InitialClusterToken: "restore-test",
	}); err != nil {
		return nil, fmt.Errorf("etcdutl cannot restore %s: %w", snap, err)
	}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = "restored", dataDir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cu, _ := url.Parse("http://127.0.0.1:0")
	pu, _ := url.Parse(peer)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = "restored=" + peer
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd does not start on the restored %s: %w", snap, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd on the restored %s not ready after 30s", snap)
	}
	return &Restored{Endpoint: e.Clients[0].Addr().String(), etcd: e}, nil
}

// Client connects to the restored etcd. A snapshot holds the auth state
// too: a restored copy of a server with authentication on wants the same
// user ("" for none).
func (r *Restored) Client(username, password string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{r.Endpoint}, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(), Username: username, Password: password})
}

// Close stops the restored etcd.
func (r *Restored) Close() { r.etcd.Close() }
