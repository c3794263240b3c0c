package verify

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mmapFlags chooses how the database file is mapped. MAP_POPULATE reads
// the whole file in at once: the check and the figures touch every page,
// and one sequential pass in the kernel is much cheaper than a page fault
// for each. It pays only when the file fits in the memory the process may
// use: under a tighter memory limit (a container's cgroup) the first pages
// read are evicted again before the check reaches them, and every page is
// read from disk twice. Then the pages are read on demand instead, which
// reads the least from disk.
func mmapFlags(size int64) int { return mmapFlagsFor(size, availableMemory()) }

func mmapFlagsFor(size, available int64) int {
	if fits(size, available) {
		return unix.MAP_POPULATE
	}
	return 0
}

// FitsInMemory reports whether a database of size bytes fits in the page
// cache this process may use, which a fast check needs, and how much that
// is.
func FitsInMemory(size int64) (available int64, ok bool) {
	available = availableMemory()
	return available, fits(size, available)
}

func fits(size, available int64) bool { return size+populateMargin <= available }

// populateMargin is memory kept aside for the checker's own heap and the
// rest of the run.
const populateMargin = 128 << 20

// availableMemory is what this process may still fill with page cache:
// the system's available memory, or less when the memory cgroup it runs in
// has a limit (cgroup v2 or v1).
func availableMemory() int64 {
	return availableWithin(meminfoAvailable())
}

// availableWithin lowers the machine's available memory to what this
// process's cgroup still allows.
func availableWithin(avail int64) int64 {
	if limit, used, ok := cgroupMemory(); ok && limit-used < avail {
		avail = limit - used
	}
	return avail
}

// meminfoAvailable is MemAvailable from /proc/meminfo, in bytes; very
// large when unknown.
func meminfoAvailable() int64 { return memAvailable("/proc/meminfo") }

// memAvailable reads MemAvailable from a file in the format of
// /proc/meminfo.
func memAvailable(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 1 << 62
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 1 << 62
}

// cgroupMemory reads the memory limit of this process's cgroup and the
// memory charged to it that cannot simply be dropped (everything but
// inactive page cache).
func cgroupMemory() (limit, used int64, ok bool) {
	return cgroupMemoryOf("/proc/self/cgroup", "/sys/fs/cgroup")
}

// cgroupMemoryOf is cgroupMemory with the process's cgroup file and the
// cgroup file system's root as arguments.
func cgroupMemoryOf(procCgroup, root string) (limit, used int64, ok bool) {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir := filepath.Join(root, parts[2])
			if limit, used, ok = readCgroup(dir, "memory.max", "memory.current", "inactive_file"); ok {
				return limit, used, true
			}
		case strings.Contains(","+parts[1]+",", ",memory,"):
			dir := filepath.Join(root, "memory", parts[2])
			if limit, used, ok = readCgroup(dir, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"); ok {
				return limit, used, true
			}
		}
	}
	return 0, 0, false
}

func readCgroup(dir, limitFile, usageFile, inactiveKey string) (limit, used int64, ok bool) {
	lb, err := os.ReadFile(filepath.Join(dir, limitFile))
	if err != nil {
		return 0, 0, false
	}
	limit, err = strconv.ParseInt(strings.TrimSpace(string(lb)), 10, 64)
	if err != nil { // "max": no limit
		return 0, 0, false
	}
	ub, err := os.ReadFile(filepath.Join(dir, usageFile))
	if err != nil {
		return 0, 0, false
	}
	if used, err = strconv.ParseInt(strings.TrimSpace(string(ub)), 10, 64); err != nil {
		return 0, 0, false
	}
	if sb, err := os.ReadFile(filepath.Join(dir, "memory.stat")); err == nil {
		for _, l := range strings.Split(string(sb), "\n") {
			if v, found := strings.CutPrefix(l, inactiveKey+" "); found {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					used -= n
				}
			}
		}
	}
	return limit, max(used, 0), true
}
