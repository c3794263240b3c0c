//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// loadOptions is the write load run against etcd while a contender runs:
// rate puts per second of valueSize-byte values over keys keys, the way an
// API server keeps writing while a backup is taken.
type loadOptions struct {
	rate      int
	valueSize int
	keys      int
}

// writeLoad puts at a steady rate and records how long each put took,
// measured from the moment it was due: a put that had to wait for an
// earlier slow one counts its wait too, so a stall is not hidden by the
// load slowing down with it.
type writeLoad struct {
	mu      sync.Mutex
	lat     []time.Duration
	failed  int
	stop    chan struct{}
	stopped sync.WaitGroup
}

// maxInFlight bounds the puts waiting for etcd at once; beyond it the
// load waits, and the wait shows in the latency.
const maxInFlight = 256

// startLoad begins putting through cli until stopLoad is called.
func startLoad(ctx context.Context, cli *clientv3.Client, o loadOptions) *writeLoad {
	w := &writeLoad{stop: make(chan struct{})}
	value := strings.Repeat("v", o.valueSize)
	interval := time.Second / time.Duration(o.rate)
	slots := make(chan struct{}, maxInFlight)
	w.stopped.Go(func() {
		var inflight sync.WaitGroup
		defer inflight.Wait()
		due := time.Now()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
			slots <- struct{}{}
			key := fmt.Sprintf("/registry/bench-load/object-%06d", i%o.keys)
			at := due
			inflight.Go(func() {
				defer func() { <-slots }()
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := cli.Put(pctx, key, value)
				cancel()
				w.record(time.Since(at), err)
			})
			due = due.Add(interval)
		}
	})
	return w
}

func (w *writeLoad) record(d time.Duration, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.failed++
		return
	}
	w.lat = append(w.lat, d)
}

// stopLoad ends the load, waits for the puts in flight and returns the
// latencies and the number of puts that failed.
func (w *writeLoad) stopLoad() ([]time.Duration, int) {
	close(w.stop)
	w.stopped.Wait()
	return w.lat, w.failed
}

// latency summarises put latencies.
type latency struct {
	n             int
	p50, p99, max time.Duration
	failed        int
}

func summarise(lat []time.Duration, failed int) latency {
	if len(lat) == 0 {
		return latency{failed: failed}
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return latency{n: len(s), p50: percentile(s, 50), p99: percentile(s, 99), max: s[len(s)-1], failed: failed}
}

// percentile of sorted values, nearest rank: the smallest value with at
// least p percent of the values at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
