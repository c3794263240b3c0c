// Package pushgatewaytest starts a real Prometheus Pushgateway on 127.0.0.1
// for tests, and scrapes it. ci/install-prometheus-tools.sh installs it into
// the repository's .tools directory; a test that finds it missing is
// skipped, and fails under CI=true.
package pushgatewaytest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
)

// Server is a running Pushgateway.
type Server struct {
	// URL is the base URL to push to.
	URL string
}

// listening is the line the Pushgateway logs once it accepts connections.
var listening = regexp.MustCompile(`msg="?Listening on"? address=(127\.0\.0\.1:[0-9]+)`)

// Start runs the Pushgateway on a port the kernel picks (the address is read
// from its log, so no port is guessed) and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binary(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--web.listen-address=127.0.0.1:0", "--log.level=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // killed by the cancelled context
	})

	found := make(chan string, 1)
	go func() {
		// Reads to the end: a full pipe would block the server.
		sc := bufio.NewScanner(stderr)
		var log []string
		listens := false
		for sc.Scan() {
			if listens {
				continue
			}
			log = append(log, sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				listens = true
			}
		}
		if !listens {
			found <- "exited:\n" + strings.Join(log, "\n")
		}
	}()
	select {
	case addr := <-found:
		if strings.HasPrefix(addr, "exited:") {
			t.Fatalf("pushgateway %s", addr)
		}
		return &Server{URL: "http://" + addr}
	case <-time.After(30 * time.Second):
		t.Fatalf("pushgateway did not log its address within 30s")
	}
	return nil
}

func binary(t testing.TB) string {
	t.Helper()
	dir, err := blobtest.ToolsDir()
	if err == nil {
		p := filepath.Join(dir, "bin", "pushgateway")
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("pushgateway is not installed (%v); run ci/install-prometheus-tools.sh", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " — CI=true requires it")
	}
	t.Skip(msg)
	return ""
}

// Scrape reads /metrics the way Prometheus would, in the text format.
func (s *Server) Scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping the pushgateway: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping the pushgateway: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the pushgateway's metrics: %v", err)
	}
	return mfs
}
