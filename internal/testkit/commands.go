package testkit

import "github.com/spf13/cobra"

// CommandPaths lists every command under root, as the words that name it,
// so that a test can run each command of a command line.
func CommandPaths(root *cobra.Command) [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		out = append(out, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	return out
}
