package location_test

import (
	"strings"
	"testing"

	"github.com/etcd-backup/etcd-backup/internal/location"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, spec, want string
	}{
		{"plain path", "/backup/host", "/backup/host"},
		{"file URL", "file:///data/etcd-backup", "file:///data/etcd-backup"},
		{"s3 settings kept", "s3://bucket/etcd?region=eu-west-1&endpoint=https://s3.example:9000&use_path_style=true",
			"s3://bucket/etcd?endpoint=https%3A%2F%2Fs3.example%3A9000&region=eu-west-1&use_path_style=true"},
		{"userinfo dropped", "s3://AKIAUSER:pass-word@bucket/etcd", "s3://bucket/etcd"},
		{"unknown values replaced", "s3://bucket?region=r&secret_key=abcdef&token=t0k3n",
			"s3://bucket?region=r&secret_key=REDACTED&token=REDACTED"},
		{"identifying values replaced", "s3://bucket?kmskeyid=arn:aws:kms:eu:1234:key/x&role=arn:aws:iam::1234:role/r",
			"s3://bucket?kmskeyid=REDACTED&role=REDACTED"},
		{"endpoint userinfo dropped", "s3://bucket?endpoint=http://user:pass-word@minio:9000",
			"s3://bucket?endpoint=http%3A%2F%2Fminio%3A9000"},
		{"fragment dropped", "gs://bucket/p#pass-word", "gs://bucket/p"},
		{"opaque replaced", "s3:pass-word@bucket", "s3:REDACTED"},
		{"unparseable keeps the scheme only", "s3://AKIA:pass/word@bucket", "s3://REDACTED"},
		{"unparseable without scheme", "%zz pass-word", "REDACTED"},
		{"empty authority", "gs://", "gs://"},
		{"empty authority with query", "gs://?prefix=a-&token=pass-word", "gs://?prefix=a-&token=REDACTED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := location.Redact(tc.spec)
			if got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.spec, got, tc.want)
			}
			for _, secret := range []string{"pass-word", "abcdef", "t0k3n", "1234", "AKIA"} {
				if strings.Contains(got, secret) {
					t.Errorf("Redact(%q) = %q still shows %q", tc.spec, got, secret)
				}
			}
		})
	}
}

func TestRedactText(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no URL", "dial tcp 127.0.0.1:2379: connection refused", "dial tcp 127.0.0.1:2379: connection refused"},
		{"a URL without secrets stays as written", "opening s3://bucket/etcd?region=r&use_path_style=true: denied",
			"opening s3://bucket/etcd?region=r&use_path_style=true: denied"},
		{"userinfo", `Get "https://root:pass-word@10.0.0.1:2379/v3": EOF`, `Get "https://10.0.0.1:2379/v3": EOF`},
		{"a list of endpoints", "https://a:2379,https://root:pass-word@b:2379,https://c:2379",
			"https://a:2379,https://b:2379,https://c:2379"},
		{"a hidden parameter", "uploading to s3://bucket?region=r&token=t0k3n failed", "uploading to s3://bucket?region=r&token=REDACTED failed"},
		{"an endpoint parameter with userinfo", "s3://bucket?endpoint=http://u:pass-word@minio:9000 is down",
			"s3://bucket?endpoint=http%3A%2F%2Fminio%3A9000 is down"},
		{"unparseable with userinfo", "s3://AKIA:pass/word@bucket refused", "s3://REDACTED refused"},
		{"two URLs", "from https://u:pass-word@a:1 to gs://b/p#t0k3n", "from https://a:1 to gs://b/p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := location.RedactText(tc.text)
			if got != tc.want {
				t.Errorf("RedactText(%q)\n got  %q\n want %q", tc.text, got, tc.want)
			}
			for _, secret := range []string{"pass-word", "pass/word", "t0k3n", "AKIA"} {
				if strings.Contains(got, secret) {
					t.Errorf("RedactText(%q) = %q still shows %q", tc.text, got, secret)
				}
			}
		})
	}
}

func TestParseRefusesTheRoot(t *testing.T) {
	for _, spec := range []string{"/", "//", "/x/..", "file:///", "file:////", "file://localhost/", "file:///x/../"} {
		if _, err := location.Parse(spec); err == nil || !strings.Contains(err.Error(), "root directory") {
			t.Errorf("Parse(%q): %v, want the root directory refused", spec, err)
		}
	}
}
