package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func TestMain(m *testing.M) {
	verify.RunChild()
	os.Exit(m.Run())
}

// kv is a key as etcd keeps it: its revisions must survive a restore.
type kv struct {
	Key, Value           string
	Create, Mod, Version int64
}

// source is a snapshot taken from a real etcd server, with what the server
// held at that moment.
type source struct {
	path      string
	keys      []kv
	revision  int64
	clusterID uint64
}

// startWithRetry starts what start starts on fresh ports until no port was
// taken in between (see etcdtest.FreePorts).
func startWithRetry(t *testing.T, n int, start func(ports []etcdtest.Ports) error) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ports, err := etcdtest.FreePorts(n)
		if err != nil {
			t.Fatal(err)
		}
		err = start(ports)
		if err == nil {
			return
		}
		if !errors.Is(err, etcdtest.ErrAddressInUse) || attempt == 2 {
			t.Fatal(err)
		}
	}
}

// takeSnapshot runs etcd of one minor, writes keys (overwritten and deleted
// ones too) and saves a snapshot over the v3 API, as a backup run does.
func takeSnapshot(t *testing.T, bin string) source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	certs, err := etcdtest.GenerateCerts(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var p *etcdtest.Process
	startWithRetry(t, 1, func(ports []etcdtest.Ports) error {
		p, err = etcdtest.StartProcess(t, bin, "source", filepath.Join(t.TempDir(), "data"), ports[0], certs,
			"--initial-cluster", fmt.Sprintf("source=http://127.0.0.1:%d", ports[0].Peer))
		return err
	})
	if err := p.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := p.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 50 {
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/k%02d", i), strings.Repeat("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []clientv3.Op{clientv3.OpPut("/registry/k03", "changed"), clientv3.OpDelete("/registry/k07"), clientv3.OpPut("/registry/k03", "again")} {
		if _, err := c.Do(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	s := source{path: filepath.Join(t.TempDir(), "snapshot.db")}
	s.keys, s.revision, s.clusterID = allKeys(t, ctx, c)
	rc, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	return s
}

func allKeys(t *testing.T, ctx context.Context, c *clientv3.Client) ([]kv, int64, uint64) {
	t.Helper()
	resp, err := c.Get(ctx, "\x00", clientv3.WithFromKey())
	if err != nil {
		t.Fatal(err)
	}
	var out []kv
	for _, k := range resp.Kvs {
		out = append(out, kv{string(k.Key), string(k.Value), k.CreateRevision, k.ModRevision, k.Version})
	}
	return out, resp.Header.Revision, resp.Header.ClusterId
}

// TestRestoreThreeMembers restores one snapshot written by a real etcd of
// each minor into three members, starts them with etcd of the same minor as
// a cluster on 127.0.0.1, and checks that it is the data of the snapshot in
// a new cluster.
func TestRestoreThreeMembers(t *testing.T) {
	for _, minor := range []string{"3.4", "3.5", "3.6", "3.7"} {
		t.Run(minor, func(t *testing.T) {
			bin := etcdtest.Binary(t, minor)
			src := takeSnapshot(t, bin)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			certs, err := etcdtest.GenerateCerts(filepath.Join(t.TempDir(), "pki"))
			if err != nil {
				t.Fatal(err)
			}
			token := "restored-" + minor
			var members []*etcdtest.Process
			startWithRetry(t, 3, func(ports []etcdtest.Ports) error {
				members = nil
				var peers []string
				for i, p := range ports {
					peers = append(peers, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, p.Peer))
				}
				cluster := strings.Join(peers, ",")
				root := t.TempDir()
				for i, p := range ports {
					o := Options{
						Snapshot: src.path, Name: fmt.Sprintf("m%d", i), InitialCluster: cluster, InitialClusterToken: token,
						InitialAdvertisePeerURLs: []string{fmt.Sprintf("http://127.0.0.1:%d", p.Peer)},
						DataDir:                  filepath.Join(root, fmt.Sprintf("m%d", i)), TargetVersion: minor,
					}
					res, err := Run(ctx, o, zap.NewNop())
					if err != nil {
						return fmt.Errorf("restoring member %d: %w", i, err)
					}
					if res.Status.Revision != src.revision {
						return fmt.Errorf("restored revision %d, the source was at %d", res.Status.Revision, src.revision)
					}
					// etcd 3.4 and 3.5 record their cluster version in the
					// data, 3.6 and later their storage version.
					if res.DataVersion.String() != minor {
						return fmt.Errorf("data version %s, want %s", res.DataVersion, minor)
					}
				}
				for i, p := range ports {
					m, err := etcdtest.StartProcess(t, bin, fmt.Sprintf("m%d", i), filepath.Join(root, fmt.Sprintf("m%d", i)), p, certs,
						"--initial-cluster", cluster, "--initial-cluster-token", token)
					if err != nil {
						for _, m := range members {
							m.Stop()
						}
						return err
					}
					members = append(members, m)
				}
				return nil
			})
			for _, m := range members {
				if err := m.WaitHealthy(ctx); err != nil {
					t.Fatal(err)
				}
			}
			checkCluster(t, ctx, members, src)
			if minor == "3.7" {
				checkNoDowngrade(t, ctx, src)
			}
		})
	}
}

// checkNoDowngrade shows why a snapshot of etcd 3.7 is refused for a 3.6
// target: etcd 3.6 does not start on the data (restored here without the
// check), and the check refuses it up front.
func checkNoDowngrade(t *testing.T, ctx context.Context, src source) {
	t.Helper()
	o := Options{Snapshot: src.path, Name: "m0", InitialAdvertisePeerURLs: []string{"http://127.0.0.1:2380"}, TargetVersion: "3.6"}
	o.DataDir = filepath.Join(t.TempDir(), "refused")
	_, err := Run(ctx, o, zap.NewNop())
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "etcd 3.7 data and the target is etcd 3.6") {
		t.Fatalf("restoring 3.7 data for etcd 3.6: %v, want a refusal", err)
	}
	bin36 := etcdtest.Binary(t, "3.6")
	certs, err := etcdtest.GenerateCerts(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	startWithRetry(t, 1, func(ports []etcdtest.Ports) error {
		o.TargetVersion = ""
		o.InitialAdvertisePeerURLs = []string{fmt.Sprintf("http://127.0.0.1:%d", ports[0].Peer)}
		o.InitialCluster = ""
		o.DataDir = filepath.Join(t.TempDir(), "unchecked")
		if _, err := Run(ctx, o, zap.NewNop()); err != nil {
			return err
		}
		p, err := etcdtest.StartProcess(t, bin36, "m0", o.DataDir, ports[0], certs)
		if err == nil {
			if herr := p.WaitHealthy(ctx); herr == nil {
				return fmt.Errorf("etcd 3.6 started on etcd 3.7 data: the version check refuses something that works")
			}
			return nil
		}
		if errors.Is(err, etcdtest.ErrAddressInUse) {
			return err
		}
		if !strings.Contains(err.Error(), `version \"3.7.0\" is not supported`) {
			t.Errorf("etcd 3.6 did not start on etcd 3.7 data, but not for the expected reason: %v", err)
		}
		return nil
	})
}

func checkCluster(t *testing.T, ctx context.Context, members []*etcdtest.Process, src source) {
	t.Helper()
	c, err := members[0].Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ml, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, m := range ml.Members {
		got = append(got, strings.Join(m.PeerURLs, ","))
	}
	for _, m := range members {
		want = append(want, m.PeerURL)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("member list peer URLs %v, want %v", got, want)
	}
	keys, rev, id := allKeys(t, ctx, c)
	if id == src.clusterID {
		t.Errorf("cluster ID %x is the source's: the restore did not make a new cluster", id)
	}
	if rev < src.revision {
		t.Errorf("revision %d after restore, the snapshot was at %d", rev, src.revision)
	}
	if !slices.Equal(keys, src.keys) {
		t.Fatalf("keys after restore differ from the source at snapshot time:\n got %v\nwant %v", keys, src.keys)
	}
	if _, err := c.Put(ctx, "/after-restore", "written"); err != nil {
		t.Fatal(err)
	}
	last, err := members[len(members)-1].Client()
	if err != nil {
		t.Fatal(err)
	}
	defer last.Close()
	for {
		r, err := last.Get(ctx, "/after-restore", clientv3.WithSerializable())
		if err == nil && len(r.Kvs) == 1 && string(r.Kvs[0].Value) == "written" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("a write after the restore did not reach %s: %v", members[len(members)-1].Name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestRestoreBumpRevision: --bump-revision and --mark-compacted reach
// etcd's restore; the started member is past the snapshot's revision and
// refuses reads at older ones, so that watchers relist.
func TestRestoreBumpRevision(t *testing.T) {
	bin := etcdtest.Binary(t, "3.6")
	src := takeSnapshot(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	certs, err := etcdtest.GenerateCerts(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var p *etcdtest.Process
	startWithRetry(t, 1, func(ports []etcdtest.Ports) error {
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0].Peer)
		dir := filepath.Join(t.TempDir(), "m0")
		if _, err := Run(ctx, Options{Snapshot: src.path, Name: "m0", InitialAdvertisePeerURLs: []string{peer}, DataDir: dir,
			BumpRevision: 1000, MarkCompacted: true}, zap.NewNop()); err != nil {
			return err
		}
		p, err = etcdtest.StartProcess(t, bin, "m0", dir, ports[0], certs, "--initial-cluster", "m0="+peer)
		return err
	})
	if err := p.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := p.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Get(ctx, "/registry/k03")
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Revision < src.revision+1000 {
		t.Fatalf("revision %d after a restore bumped by 1000 from %d", r.Header.Revision, src.revision)
	}
	if _, err := c.Get(ctx, "/registry/k03", clientv3.WithRev(src.revision)); err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Fatalf("a read at the snapshot's revision after --mark-compacted: %v, want compacted", err)
	}
}
