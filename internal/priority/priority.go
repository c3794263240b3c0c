// Package priority makes the backup job yield to etcd on a shared node: a
// higher CPU nice value and a lower I/O priority class for the whole
// process. Both are inherited by the verification child.
package priority

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// IOClass is an I/O scheduling class, as ionice(1) names them.
type IOClass string

// The classes a run may choose. Best-effort is used with its lowest level
// (7); the block layer's schedulers (mq-deadline, bfq) serve idle
// requests only when nothing else waits, with a time bound against
// starvation.
const (
	IONone       IOClass = "none" // unchanged
	IOBestEffort IOClass = "best-effort"
	IOIdle       IOClass = "idle"
)

// ioprio_set(2) arguments, from linux/ioprio.h.
const (
	ioprioWhoProcess = 1
	ioprioClassShift = 13
	ioprioClassBE    = 2
	ioprioClassIdle  = 3
	lowestBELevel    = 7
)

// Lower applies nice (0 = unchanged) and the I/O class to every thread of
// this process. Linux keeps both per thread: the loop goes over the
// threads until a pass finds none it has not seen, since a thread not yet
// changed may start another meanwhile. Threads started later inherit the
// values of the thread that starts them.
func Lower(nice int, class IOClass) error {
	prio, err := ioprio(class)
	if err != nil {
		return err
	}
	if nice == 0 && prio == 0 {
		return nil
	}
	done := map[int]bool{}
	for {
		tids, err := threads()
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh++
			done[tid] = true
			if err := lowerThread(tid, nice, prio); err != nil {
				return err
			}
		}
		if fresh == 0 {
			return nil
		}
	}
}

func lowerThread(tid, nice, prio int) error {
	if nice != 0 {
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
			return fmt.Errorf("setting nice value %d: %w", nice, err)
		}
	}
	if prio != 0 {
		if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), uintptr(prio)); errno != 0 {
			return fmt.Errorf("setting I/O priority: %w", errno)
		}
	}
	return nil
}

func ioprio(class IOClass) (int, error) {
	switch class {
	case IONone, "":
		return 0, nil
	case IOBestEffort:
		return ioprioClassBE<<ioprioClassShift | lowestBELevel, nil
	case IOIdle:
		return ioprioClassIdle << ioprioClassShift, nil
	}
	return 0, fmt.Errorf("unknown I/O class %q", class)
}

// threads lists the thread ids of this process.
func threads() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("listing threads: %w", err)
	}
	var out []int
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, tid)
		}
	}
	return out, nil
}
