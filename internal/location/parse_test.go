package location_test

import (
	"strings"
	"testing"

	"github.com/etcd-backup/etcd-backup/internal/location"
)

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		spec, dir, bucket, prefix string
		local                     bool
	}{
		{spec: "/backup/host/", dir: "/backup/host", local: true},
		{spec: "/backup/../srv//etcd", dir: "/srv/etcd", local: true},
		{spec: "s3://bucket/etcd/prod?region=eu-west-1", bucket: "s3://bucket?region=eu-west-1", prefix: "etcd/prod/"},
		{spec: "s3://bucket/etcd/?endpoint=http://127.0.0.1:9000&use_path_style=true", bucket: "s3://bucket?endpoint=http%3A%2F%2F127.0.0.1%3A9000&use_path_style=true", prefix: "etcd/"},
		{spec: "s3://bucket?prefix=etcd-", bucket: "s3://bucket", prefix: "etcd-"},
		{spec: "gs://bucket", bucket: "gs://bucket", prefix: ""},
		{spec: "azblob://container/a/b", bucket: "azblob://container", prefix: "a/b/"},
		{spec: "file:///var/backups", bucket: "file:///var/backups?create_dir=true&dir_file_mode=0700&no_tmp_dir=true"},
		{spec: "file://localhost/var/backups?dir_file_mode=0750", bucket: "file://localhost/var/backups?create_dir=true&dir_file_mode=0750&no_tmp_dir=true"},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			s, err := location.Parse(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			if s.Local() != c.local || s.Dir != c.dir || s.Prefix != c.prefix {
				t.Errorf("local %v dir %q prefix %q, want %v %q %q", s.Local(), s.Dir, s.Prefix, c.local, c.dir, c.prefix)
			}
			got := ""
			if s.Bucket != nil {
				got = s.Bucket.String()
			}
			if got != c.bucket {
				t.Errorf("bucket URL %q, want %q", got, c.bucket)
			}
			if c.local == (s.URL != nil) {
				t.Errorf("URL %v for a spec that is local=%v", s.URL, c.local)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	cases := []struct {
		name, spec, want string
		env              map[string]string
	}{
		{name: "relative path", spec: "backup/host", want: "neither an absolute path nor a URL"},
		{name: "unknown scheme", spec: "ftp://host/dir", want: `unsupported scheme "ftp"`},
		{name: "URL without //", spec: "s3:bucket", want: "s3: URL without //"},
		{name: "credentials", spec: "s3://AKIA:pass-word@bucket", want: "credentials in the URL"},
		{name: "fragment", spec: "s3://bucket/etcd#pass-word", want: "#fragment"},
		{name: "empty fragment", spec: "s3://bucket/etcd#", want: "#fragment"},
		{name: "bad query", spec: "s3://bucket?region=%zz", want: "query is not valid"},
		{name: "unknown parameter", spec: "s3://bucket?secret_key=pass-word", want: `unknown query parameter "secret_key" for s3://`},
		{name: "parameter twice", spec: "s3://bucket?region=a&region=b", want: `"region" is given more than once`},
		{name: "endpoint with credentials", spec: "s3://bucket?endpoint=https://u:pass-word@s3.example", want: "without credentials"},
		{name: "endpoint without scheme", spec: "s3://bucket?endpoint=s3.example:9000", want: "endpoint must be a URL"},
		{name: "endpoint without host", spec: "s3://bucket?endpoint=https://", want: "endpoint must be a URL"},
		{name: "no bucket", spec: "s3:///prefix", want: "bucket name missing"},
		{name: "file with a host", spec: "file://host/dir", want: "file:///path/to/dir"},
		{name: "file relative", spec: "file://", want: "file:///path/to/dir"},
		{name: "prefix twice", spec: "s3://bucket/a?prefix=b", want: "key prefix given twice"},
		{name: "empty segment", spec: "s3://bucket/a//b", want: "empty, . or .. segment"},
		{name: "dot-dot segment", spec: "gs://bucket/a/../b", want: "empty, . or .. segment"},
		{name: "dot segment", spec: "gs://bucket/./b", want: "empty, . or .. segment"},
		{name: "not a URL", spec: "s3://bucket/%zz", want: "not a valid URL"},
		{name: "SAS token sent elsewhere", spec: "azblob://container?domain=evil.example", want: `"domain" cannot change the Azure service endpoint`,
			env: map[string]string{"AZURE_STORAGE_SAS_TOKEN": "sig=pass-word"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AZURE_STORAGE_SAS_TOKEN", "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			s, err := location.Parse(c.spec)
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "pass-word") {
				t.Errorf("error quotes a secret: %v", err)
			}
			if s.Bucket != nil || s.Dir != "" {
				t.Errorf("a refused spec came back usable: %+v", s)
			}
		})
	}
	t.Run("azure endpoint change without a SAS token", func(t *testing.T) {
		t.Setenv("AZURE_STORAGE_SAS_TOKEN", "")
		if _, err := location.Parse("azblob://container?domain=blob.example"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRedactUnparsableKeepsOnlyAValidScheme(t *testing.T) {
	for spec, want := range map[string]string{
		"az+Z.9-0://AKIA:pass%zzword@bucket": "az+Z.9-0://REDACTED",
		"AZaz09://x:pass%zz@b":               "AZaz09://REDACTED",
		"s_3://x:pass%zz@b":                  "REDACTED",
		"s[3://x:pass%zz@b":                  "REDACTED",
		"s`3://x:pass%zz@b":                  "REDACTED",
		"s{3://x:pass%zz@b":                  "REDACTED",
		"s/3://x:pass%zz@b":                  "REDACTED",
		"s@3://x:pass%zz@b":                  "REDACTED",
		"://x:pass%zz@b":                     "REDACTED",
	} {
		if got := location.Redact(spec); got != want {
			t.Errorf("Redact(%q) = %q, want %q", spec, got, want)
		}
	}
}
