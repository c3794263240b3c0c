// Package cli holds what the command lines of backup-job and backup-restore
// share: running a cobra command tree with one line per error and the exit
// statuses of the design (0 ok, 1 failed, 2 bad configuration or usage), and
// the settings that commands take as flags or from the environment.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/location"
)

// Exit statuses.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// UsageError is a command line or setting that was refused before any
// work: exit status 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ErrReported is a failure whose details the command has already printed:
// exit status 1, nothing more to say.
var ErrReported = errors.New("failed (see above)")

// Execute runs root with args and returns the exit status. Errors are one
// line on stderr, prefixed with the command's path.
func Execute(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(flagError)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	if !errors.Is(err, ErrReported) {
		fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), oneLine(location.RedactText(err.Error())))
	}
	return Code(err)
}

// Code maps an error to an exit status.
func Code(err error) int {
	var ue *UsageError
	var ce *config.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.As(err, &ce):
		return ExitUsage
	}
	return ExitFailed
}

func flagError(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		return Usagef("unknown argument %q; see '%s --help'", "--"+strings.TrimLeft(ne.GetSpecifiedName(), "-"), cmd.CommandPath())
	}
	return Usagef("%v; see '%s --help'", err, cmd.CommandPath())
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// NoArgs accepts no positional argument.
func NoArgs(accepted string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return Usagef("unknown argument %q; accepted: %s", args[0], accepted)
		}
		return nil
	}
}

// Args accepts between min and max positional arguments (max < 0: any).
func Args(min, max int, accepted string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min && min == 1:
			return Usagef("no argument given; accepted: %s", accepted)
		case len(args) < min:
			return Usagef("%d arguments given, %d needed; accepted: %s", len(args), min, accepted)
		case max >= 0 && len(args) > max:
			return Usagef("%d arguments given, at most %d accepted: %s", len(args), max, accepted)
		}
		return nil
	}
}

// Source is where list, fetch and restore look for snapshots: the --from
// flags, or else the destinations a backup run writes to.
type Source struct {
	From       []string
	NamePrefix string
}

// Flags adds --from and --name-prefix to a command.
func (s *Source) Flags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&s.From, "from", nil,
		"a destination to read: an absolute directory or a blob URL; repeatable (default: $"+config.Prefix+"_DESTINATIONS, else /backup/host)")
	fs.StringVar(&s.NamePrefix, "name-prefix", "",
		"snapshot name prefix (default: $"+config.Prefix+"_NAME_PREFIX, else etcd-snapshot-)")
}

// Resolve fills what the flags left empty from the environment and the
// defaults of a backup run, and checks the result.
func (s *Source) Resolve() error {
	if len(s.From) == 0 {
		env := os.Getenv(config.Prefix + "_DESTINATIONS")
		if env == "" {
			env = "/backup/host"
		}
		for _, d := range strings.Split(env, ",") {
			s.From = append(s.From, strings.TrimSpace(d))
		}
	}
	if s.NamePrefix == "" {
		s.NamePrefix = os.Getenv(config.Prefix + "_NAME_PREFIX")
	}
	if s.NamePrefix == "" {
		s.NamePrefix = "etcd-snapshot-"
	}
	for _, d := range s.From {
		if _, err := location.Parse(d); err != nil {
			return Usagef("destination %s: %v", location.Redact(d), err)
		}
	}
	if strings.ContainsAny(s.NamePrefix, "/\\") {
		return Usagef("name prefix %q contains a path separator; accepted: letters, digits, '.', '_' or '-'", s.NamePrefix)
	}
	return nil
}

// Sibling is the path of the executable name next to the running one:
// backup-job and backup-restore ship together (in the image, and in bin/
// after `make build`) and hand commands to each other.
func Sibling(name string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding this executable to run %s next to it: %w", name, err)
	}
	path := filepath.Join(filepath.Dir(self), name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s is not next to %s (%w); both are in the image (/%s), and in bin/ after `make build`", name, self, err, name)
	}
	return path, nil
}
