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
		{"empty authority", "mem://", "mem://"},
		{"empty authority with query", "mem://?prefix=a-&token=pass-word", "mem://?prefix=a-&token=REDACTED"},
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
