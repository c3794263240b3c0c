// Package logging builds the logger of a run: log/slog, JSON or text, at a
// level, and no URL-shaped value leaves it with what could be a credential,
// whichever attribute or message carries it.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/etcd-backup/etcd-backup/internal/location"
)

// New returns a logger writing to w in format ("json" or "text") at level
// ("debug", "info", "warn" or "error"; anything else is info).
func New(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: redact}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// redact is called by the handler for the message and every attribute,
// those inside groups included.
func redact(_ []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, location.RedactText(v.String()))
	case slog.KindAny:
	default:
		return a
	}
	switch x := v.Any().(type) {
	case error:
		return slog.String(a.Key, location.RedactText(x.Error()))
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = location.RedactText(s)
		}
		return slog.Any(a.Key, out)
	case fmt.Stringer:
		return slog.String(a.Key, location.RedactText(x.String()))
	default:
		// Any other value is shown as it is unless its text holds
		// something to hide; then as that text, redacted.
		if s := fmt.Sprint(x); location.RedactText(s) != s {
			return slog.String(a.Key, location.RedactText(s))
		}
		return a
	}
}
