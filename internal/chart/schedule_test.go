package chart

import (
	"strconv"
	"strings"
	"testing"

	"github.com/robfig/cron/v3"
)

// The install-time lookups (no default StorageClass, the namespace's Pod
// Security level) need an API server: make e2e checks them against a real
// one rather than a stand-in here.

// TestScheduleMatchesCronLibrary: the chart accepts a schedule exactly when
// the API server does, which parses it with robfig/cron/v3 ParseStandard and
// refuses a TZ prefix.
func TestScheduleMatchesCronLibrary(t *testing.T) {
	schedules := []string{
		"0 17 * * *", "*/15 * * * *", "0 0 1 1 *", "59 23 31 12 6", "0 0 * * 0",
		"0 25 * * *", "60 * * * *", "0 0 0 * *", "0 0 32 * *", "0 0 * 0 *", "0 0 * 13 *", "0 0 * * 7",
		"0 9-17 * * MON-FRI", "0 9 * JAN,jul *", "0 9 * * sun", "0 9 * * funday", "0 9 * * JAN", "0 9 1 MON *",
		"5/10 * * * *", "0-59/5 * * * *", "*/0 * * * *", "0 20-8 * * *", "0 17 * * 5-1", "0 17 * * 1-6/2",
		"1,2,3 * * * *", "1,,2 * * * *", "1, * * * *", "0-5-7 * * * *", "0/5/2 * * * *", "-1 * * * *", "a * * * *",
		"? ? ? ? ?", "0 17 ? * *", "0 17 * *", "0 17 * * * *", "0  17 * * *",
		"@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "@every 1h30m", "@every 5", "@fortnightly",
		"TZ=UTC 0 17 * * *", "CRON_TZ=Asia/Seoul 0 17 * * *",
	}
	for _, s := range schedules {
		t.Run(s, func(t *testing.T) {
			_, cronErr := cron.ParseStandard(s)
			apiAccepts := cronErr == nil && !strings.Contains(s, "TZ")
			_, err := render(t, "schedule: "+strconv.Quote(s))
			if (err == nil) != apiAccepts {
				t.Errorf("chart accepts %v (%v), API server accepts %v (cron: %v)", err == nil, err, apiAccepts, cronErr)
			}
		})
	}
}
