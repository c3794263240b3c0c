// Command runc-oom runs runc with every container's oom_score_adj raised to
// at least this process's own. The kubelet asks for negative scores (-998 for
// the pod sandbox), which only a process allowed to lower its score may set;
// where that is not allowed, runc fails every container create. Raising the
// score changes only which process the kernel kills first under memory
// pressure.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const runc = "/usr/sbin/runc"

func main() {
	if bundle := bundleDir(os.Args[1:]); bundle != "" {
		if err := raiseOOMScore(filepath.Join(bundle, "config.json")); err != nil {
			fmt.Fprintf(os.Stderr, "runc-oom: %v\n", err)
			os.Exit(1)
		}
	}
	if err := syscall.Exec(runc, append([]string{runc}, os.Args[1:]...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "runc-oom: exec %s: %v\n", runc, err)
		os.Exit(1)
	}
}

// bundleDir is the --bundle (or -b) argument of runc create/run, if any.
func bundleDir(args []string) string {
	for i, a := range args {
		switch {
		case (a == "--bundle" || a == "-b") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--bundle="):
			return strings.TrimPrefix(a, "--bundle=")
		}
	}
	return ""
}

func raiseOOMScore(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the bundle config: %w", err)
	}
	own, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return fmt.Errorf("reading own oom_score_adj: %w", err)
	}
	floor, err := strconv.Atoi(strings.TrimSpace(string(own)))
	if err != nil {
		return fmt.Errorf("parsing own oom_score_adj %q: %w", own, err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	process, _ := spec["process"].(map[string]any)
	if process == nil {
		return nil
	}
	if v, ok := process["oomScoreAdj"].(float64); !ok || int(v) >= floor {
		return nil
	}
	process["oomScoreAdj"] = floor
	out, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o600)
}
