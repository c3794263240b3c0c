package verify

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestMmapFlags(t *testing.T) {
	for _, tc := range []struct {
		name            string
		size, available int64
		want            int
	}{
		{"fits with room", 1 << 30, 4 << 30, unix.MAP_POPULATE},
		{"fits exactly with the margin", 1 << 30, 1<<30 + populateMargin, unix.MAP_POPULATE},
		{"larger than a memory limit", 1 << 30, 512 << 20, 0},
		{"fits but not with the margin", 1 << 30, 1<<30 + populateMargin - 1, 0},
		{"nothing available", 1 << 20, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mmapFlagsFor(tc.size, tc.available); got != tc.want {
				t.Errorf("mmapFlagsFor(%d, %d) = %#x, want %#x", tc.size, tc.available, got, tc.want)
			}
		})
	}
}

func TestAvailableMemoryInThisProcess(t *testing.T) {
	if avail := availableMemory(); avail <= 0 {
		t.Fatalf("availableMemory() = %d, want a positive number of bytes", avail)
	}
	// MemAvailable moves between two reads: compare against the one read.
	m := meminfoAvailable()
	if avail := availableWithin(m); avail > m {
		t.Errorf("availableWithin(%d) = %d exceeds MemAvailable", m, avail)
	}
}
