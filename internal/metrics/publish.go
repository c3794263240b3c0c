package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/etcd-backup/etcd-backup/internal/config"
)

// Job is the Pushgateway grouping label job of every push.
const Job = "etcd-backup"

// pushTimeout bounds a push: a slow Pushgateway must not hold the Job.
const pushTimeout = 15 * time.Second

// Publisher says where metrics go. Empty fields are places not used.
type Publisher struct {
	// PushgatewayURL is the Pushgateway's base URL.
	PushgatewayURL string
	// Instance is the grouping label instance, so that the pushes of
	// several nodes or clusters do not replace each other.
	Instance string
	// File is node-exporter's textfile-collector file.
	File string
	// Client makes the push request; nil means a client of its own.
	Client *http.Client
}

// PublisherFor is where the configuration sends metrics.
func PublisherFor(cfg config.Config) Publisher {
	return Publisher{PushgatewayURL: cfg.PushgatewayURL, Instance: cfg.MetricsInstance, File: cfg.MetricsFile}
}

// Enabled says whether there is anywhere to publish.
func (p Publisher) Enabled() bool { return p.PushgatewayURL != "" || p.File != "" }

// Publish sends the set everywhere configured. Every place is tried; the
// error names each one that failed.
func (p Publisher) Publish(ctx context.Context, s *Set) error {
	var errs []error
	if p.PushgatewayURL != "" {
		if err := p.push(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("pushing metrics to %s: %w", p.PushgatewayURL, err))
		}
	}
	if p.File != "" {
		if err := writeFile(p.File, s); err != nil {
			errs = append(errs, fmt.Errorf("writing metrics file %s: %w", p.File, err))
		}
	}
	return errors.Join(errs...)
}

func (p Publisher) push(ctx context.Context, s *Set) error {
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	client := p.Client
	if client == nil {
		client = &http.Client{}
	}
	// Add (HTTP POST) replaces only the families pushed now.
	return push.New(p.PushgatewayURL, Job).
		Grouping("instance", p.Instance).
		Client(client).
		Gatherer(s.Gatherer()).
		AddContext(ctx)
}

// writeFile replaces the file atomically (prometheus.WriteToTextfile writes
// a temporary file and renames it) with this set plus the families of the
// previous file that this set does not report.
func writeFile(path string, s *Set) error {
	fresh, err := s.Gatherer().Gather()
	if err != nil {
		return err
	}
	kept, err := readKept(path, fresh)
	if err != nil {
		return err
	}
	all := append(fresh, kept...)
	sort.Slice(all, func(i, j int) bool { return all[i].GetName() < all[j].GetName() })
	return prometheus.WriteToTextfile(path, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return all, nil
	}))
}

// readKept reads the families of the previous file that are this tool's
// (etcd_backup_*) and not in fresh. A missing file has none; an unreadable
// one is an error rather than a reason to lose the last success.
func readKept(path string, fresh []*dto.MetricFamily) ([]*dto.MetricFamily, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	old, err := parser.TextToMetricFamilies(f)
	if err != nil {
		return nil, fmt.Errorf("reading the previous metrics to keep them: %w", err)
	}
	replaced := map[string]bool{}
	for _, mf := range fresh {
		replaced[mf.GetName()] = true
	}
	var kept []*dto.MetricFamily
	for name, mf := range old {
		if strings.HasPrefix(name, "etcd_backup_") && !replaced[name] {
			kept = append(kept, mf)
		}
	}
	return kept, nil
}
