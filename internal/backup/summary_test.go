package backup

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/etcd-backup/etcd-backup/internal/snapshot"
)

func TestTerminationMessageStaysValidJSON(t *testing.T) {
	dump := strings.Repeat("goroutine 7 [running]:\n\tgo.etcd.io/bbolt.(*Tx).Check(0x0) é\n", 200)
	destinations := func(n int, errText string, pruned int) []DestResult {
		var ds []DestResult
		for i := range n {
			d := DestResult{Destination: fmt.Sprintf("s3://bucket-%d/etcd", i), Status: StatusOK, Pruned: []string{}}
			for j := range pruned {
				d.Pruned = append(d.Pruned, fmt.Sprintf("etcd-snapshot-202611%02dT170000Z.db", j%30))
			}
			d.PrunedCount = len(d.Pruned)
			if errText != "" {
				d.Status, d.FailedStep, d.Error = StatusFailed, StepCopy, errText
			}
			ds = append(ds, d)
		}
		return ds
	}
	cases := []struct {
		name     string
		sum      Summary
		complete bool // written as is
		dests    int  // destinations listed in the message
	}{
		{"short", Summary{Status: StatusOK, Destinations: destinations(2, "", 3)}, true, 2},
		{"many pruned names", Summary{Status: StatusOK, Destinations: destinations(2, "", 200)}, false, 2},
		{"long error", Summary{Status: StatusFailed, FailedStep: StepVerify, Error: dump, Destinations: destinations(3, "", 0)}, false, 3},
		{"long errors everywhere", Summary{Status: StatusFailed, FailedStep: StepCopy, Error: dump, Destinations: destinations(4, dump, 50)}, false, 4},
		{"too many destinations", Summary{Status: StatusFailed, FailedStep: StepCopy, Error: dump, Destinations: destinations(60, dump, 0)}, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "termination-log")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := writeTermination(path, c.sum); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > maxTerminationMessage {
				t.Errorf("%d bytes, the kubelet keeps %d", len(b), maxTerminationMessage)
			}
			var got Summary
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("not valid JSON: %v\n%s", err, b)
			}
			if got.Status != c.sum.Status || got.FailedStep != c.sum.FailedStep {
				t.Errorf("status %q/%q, want %q/%q", got.Status, got.FailedStep, c.sum.Status, c.sum.FailedStep)
			}
			if c.sum.Error != "" && (got.Error == "" || !strings.HasPrefix(c.sum.Error, strings.TrimSuffix(got.Error, "..."))) {
				t.Errorf("error %q is not the start of the run's error", got.Error)
			}
			if !utf8.Valid(b) {
				t.Error("a character was cut in two")
			}
			if len(got.Destinations) != c.dests {
				t.Errorf("%d destinations listed, want %d", len(got.Destinations), c.dests)
			}
			for i, d := range got.Destinations {
				if d.PrunedCount != c.sum.Destinations[i].PrunedCount {
					t.Errorf("destination %d: pruned_count %d, want %d", i, d.PrunedCount, c.sum.Destinations[i].PrunedCount)
				}
			}
			want, err := json.Marshal(c.sum)
			if err != nil {
				t.Fatal(err)
			}
			if unchanged := string(want) == string(b); unchanged != c.complete {
				t.Errorf("written unchanged: %v, want %v", unchanged, c.complete)
			}
		})
	}
}

func TestSummaryRedactsEveryString(t *testing.T) {
	const secret = "pass-W0rd"
	withCreds := "https://root:" + secret + "@10.0.0.1:2379"
	s := Summary{
		Status: StatusFailed, FailedStep: StepSnapshot, Error: "dial " + withCreds + ": refused",
		Etcd: &snapshot.Member{Endpoint: withCreds},
		Destinations: []DestResult{{Destination: "s3://b/etcd?region=r&token=" + secret, Status: StatusFailed,
			Error: "uploading to s3://AKIA:" + secret + "@b/etcd", Pruned: []string{withCreds}}},
		Seconds: map[string]float64{StepSnapshot: 1},
	}
	redactStrings(reflect.ValueOf(&s))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("the summary shows the secret: %s", b)
	}
	for _, want := range []string{`"endpoint":"https://10.0.0.1:2379"`, `"error":"dial https://10.0.0.1:2379: refused"`, "token=REDACTED"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the summary lacks %s: %s", want, b)
		}
	}
}

func TestShortenKeepsWhatFits(t *testing.T) {
	for _, n := range []int{0, 1, maxTerminationError - 1, maxTerminationError} {
		msg := strings.Repeat("e", n)
		if got := shorten(msg); got != msg {
			t.Errorf("shorten of %d bytes changed it to %d bytes", n, len(got))
		}
	}
	long := strings.Repeat("e", maxTerminationError+1)
	if got := shorten(long); got != long[:maxTerminationError]+"..." {
		t.Errorf("shorten of %d bytes = %d bytes", len(long), len(got))
	}
}

// TestTerminationMessageAtTheLimit: a summary of exactly the kubelet's limit
// is written whole.
func TestTerminationMessageAtTheLimit(t *testing.T) {
	sum := Summary{Status: StatusFailed, FailedStep: StepCopy, Destinations: []DestResult{
		{Destination: "/backup/host", Status: StatusFailed, FailedStep: StepCopy, Error: "disk full", Pruned: []string{"etcd-snapshot-20261123T170000Z.db"}},
	}}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	sum.Error = strings.Repeat("e", maxTerminationMessage-len(b)-len(`,"error":""`))
	want, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != maxTerminationMessage {
		t.Fatalf("test summary has %d bytes, want exactly %d", len(want), maxTerminationMessage)
	}
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeTermination(path, sum); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("a summary of exactly %d bytes was changed to %d bytes", len(want), len(got))
	}
}
