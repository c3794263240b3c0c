package logging_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/etcd-backup/etcd-backup/internal/logging"
)

const secret = "pass-W0rd"

type endpoint struct{ URL string }

func TestNoCredentialInAnyLine(t *testing.T) {
	u, err := url.Parse("https://root:" + secret + "@10.0.0.1:2379")
	if err != nil {
		t.Fatal(err)
	}
	withCreds := "https://root:" + secret + "@10.0.0.1:2379"
	cases := []struct {
		name string
		log  func(*slog.Logger)
		want string // what is still shown
	}{
		{"message", func(l *slog.Logger) { l.Info("connecting to " + withCreds) }, "connecting to https://10.0.0.1:2379"},
		{"string", func(l *slog.Logger) { l.Info("taking snapshot", "endpoint", withCreds) }, "https://10.0.0.1:2379"},
		{"list", func(l *slog.Logger) {
			l.Info("backup starting", "endpoints", []string{"https://a:2379", withCreds})
		}, "https://a:2379"},
		{"error", func(l *slog.Logger) { l.Error("failed", "error", fmt.Errorf("dial %s: refused", withCreds)) }, "dial https://10.0.0.1:2379: refused"},
		{"stringer", func(l *slog.Logger) { l.Info("parsed", "url", u) }, "https://10.0.0.1:2379"},
		{"struct", func(l *slog.Logger) { l.Info("x", "ep", endpoint{withCreds}) }, "https://10.0.0.1:2379"},
		{"group", func(l *slog.Logger) { l.Info("x", slog.Group("etcd", "endpoint", withCreds)) }, "https://10.0.0.1:2379"},
		{"with", func(l *slog.Logger) { l.With("endpoint", withCreds).Info("x") }, "https://10.0.0.1:2379"},
		{"bucket parameter", func(l *slog.Logger) {
			l.Warn("upload failed", "error", errors.New("s3://b/etcd?region=r&token="+secret+": 403"))
		}, "s3://b/etcd?region=r&token=REDACTED"},
	}
	for _, format := range []string{"json", "text"} {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				var b bytes.Buffer
				tc.log(logging.New(&b, format, "info"))
				if strings.Contains(b.String(), secret) {
					t.Errorf("the log line shows the secret: %s", b.String())
				}
				if !strings.Contains(b.String(), tc.want) {
					t.Errorf("the log line lacks %q: %s", tc.want, b.String())
				}
			})
		}
	}
}

func TestLevel(t *testing.T) {
	var b bytes.Buffer
	l := logging.New(&b, "json", "warn")
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), "shown") {
		t.Fatalf("level warn: %s", b.String())
	}
}
