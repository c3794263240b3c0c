// Package location reads destination specs, as configured in
// ETCD_BACKUP_DESTINATIONS: an absolute directory path, or an object storage
// URL. It holds the rules for both in one place, for the configuration that
// checks them up front and the destinations that open them, and it says how
// a spec may be shown without what could be a credential.
package location

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Spec is a destination spec, read.
type Spec struct {
	// Dir is the directory of a local destination, cleaned; "" for a URL.
	Dir string
	// URL is the spec as url.Parse reads it; nil for a directory or a spec
	// that does not parse.
	URL *url.URL
	// Bucket is the URL for the storage SDK: key prefix removed, defaults
	// set. Nil unless Parse accepted a URL.
	Bucket *url.URL
	// Prefix is the key prefix inside the bucket ("" for none).
	Prefix string
}

// Local reports whether the spec is a local directory.
func (s Spec) Local() bool { return s.Dir != "" }

// Directory is the local directory the spec writes to, however it is
// spelled (a path or a file:// URL), cleaned; "" for object storage.
func (s Spec) Directory() string {
	if s.Local() {
		return s.Dir
	}
	if s.Bucket != nil && s.Bucket.Scheme == "file" {
		return s.Bucket.Path
	}
	return ""
}

// errRoot refuses the root directory: it would become a write and prune
// target, whichever way it is spelled.
var errRoot = errors.New("the root directory / is not accepted; accepted: an absolute directory path below /")

// isLocal reports whether a spec is a local directory (an absolute path)
// rather than a URL.
func isLocal(spec string) bool {
	return filepath.IsAbs(spec) && !strings.Contains(spec, "://")
}

// Parse reads spec: an absolute path is a local directory; anything else must
// be an object storage URL:
//
//	s3://bucket/some/prefix?region=eu-west-1
//	s3://bucket/prefix?endpoint=https://minio.example:9000&use_path_style=true&region=us-east-1
//	gs://bucket/prefix
//	azblob://container/prefix
//	file:///abs/dir
//
// For s3, gs and azblob the path after the bucket is a key prefix
// inside it, taken as a directory (objects are named prefix/<name>); the
// prefix= parameter gives a literal key prefix instead. For file the path is
// the directory. A URL holding credentials is refused. Errors name what was
// wrong but not the spec itself: callers show it with Redact. The Spec
// returned with an error holds what could be read.
func Parse(spec string) (Spec, error) {
	if isLocal(spec) {
		dir := filepath.Clean(spec)
		if dir == "/" {
			return Spec{}, errRoot
		}
		return Spec{Dir: dir}, nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		// url.Error repeats the URL and its detail may quote part of it,
		// which could be a secret: say only what is expected.
		return Spec{}, errors.New("not a valid URL: expected scheme://bucket/prefix?parameters, e.g. s3://my-bucket/etcd?region=eu-west-1")
	}
	s := Spec{URL: u}
	s.Bucket, s.Prefix, err = bucketURL(spec, u)
	if err != nil {
		return Spec{URL: u}, err
	}
	return s, nil
}

// redacted replaces whatever is not safe to show.
const redacted = "REDACTED"

// schemes are the blob URL schemes a destination may use, with the
// query parameters each accepts (gocloud.dev v0.47 names). A parameter not
// listed is refused before anything is opened, so that a typo or a secret
// pasted into the URL is reported by name and never sent anywhere.
var schemes = map[string][]string{
	"s3": {"region", "endpoint", "use_path_style", "s3ForcePathStyle", "disable_https", "hostname_immutable",
		"profile", "role", "anonymous", "dualstack", "fips", "accelerate", "rate_limiter_capacity",
		"ssetype", "kmskeyid", "request_checksum_calculation", "response_checksum_validation", "prefix"},
	"gs":     {"anonymous", "universe_domain", "grpc", "zonal", "prefix"},
	"azblob": {"domain", "protocol", "cdn", "localemu", "storage_account", "prefix"},
	"file":   {"create_dir", "dir_file_mode", "no_tmp_dir", "metadata", "prefix"},
}

// shownParams are the query parameters whose values Redact keeps: they say
// where the bucket is and how to reach it, never who may write to it. Any
// other value (key IDs, role ARNs, anything unknown) is replaced.
var shownParams = map[string]bool{
	"region": true, "endpoint": true, "use_path_style": true, "s3ForcePathStyle": true, "disable_https": true,
	"hostname_immutable": true, "profile": true, "anonymous": true, "dualstack": true, "fips": true,
	"accelerate": true, "rate_limiter_capacity": true, "ssetype": true, "request_checksum_calculation": true,
	"response_checksum_validation": true, "prefix": true, "universe_domain": true, "grpc": true, "zonal": true,
	"domain": true, "protocol": true, "cdn": true, "localemu": true, "storage_account": true,
	"create_dir": true, "dir_file_mode": true, "no_tmp_dir": true, "metadata": true,
}

// azureServiceParams change the Azure service endpoint.
var azureServiceParams = []string{"domain", "protocol", "cdn", "localemu", "storage_account"}

// Known reports whether scheme is an accepted URL scheme.
func Known(scheme string) bool {
	_, ok := schemes[scheme]
	return ok
}

// bucketURL checks the URL u read from spec and returns the URL to hand to
// the storage SDK (prefix removed) and the key prefix.
func bucketURL(spec string, u *url.URL) (*url.URL, string, error) {
	accepted, ok := schemes[u.Scheme]
	if !ok || u.Opaque != "" {
		what := fmt.Sprintf("unsupported scheme %q", u.Scheme)
		if u.Scheme == "" {
			what = "neither an absolute path nor a URL"
		} else if ok {
			what = fmt.Sprintf("%s: URL without //", u.Scheme)
		}
		return nil, "", fmt.Errorf("%s: accepted are absolute directory paths and the URL schemes %s", what, schemeList())
	}
	if u.User != nil {
		return nil, "", errors.New("credentials in the URL are not accepted: give them where the storage SDK reads them (environment, mounted credential files, workload identity)")
	}
	if u.Fragment != "" || strings.Contains(spec, "#") {
		return nil, "", errors.New("a #fragment is not accepted in a destination URL")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, "", errors.New("the query is not valid: expected name=value parameters separated by &")
	}
	if err := checkQuery(u.Scheme, q, accepted); err != nil {
		return nil, "", err
	}

	prefix := q.Get("prefix")
	q.Del("prefix")
	g := &url.URL{Scheme: u.Scheme, Host: u.Host}
	if u.Scheme == "file" {
		if (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") {
			return nil, "", errors.New("a file:// URL names an absolute directory: file:///path/to/dir")
		}
		g.Path = filepath.Clean(u.Path)
		if g.Path == "/" {
			return nil, "", errRoot
		}
		setDefault(q, "create_dir", "true")
		setDefault(q, "dir_file_mode", "0700")
		// Temporary files next to the final name: the rename stays on one
		// filesystem and nothing is written outside the directory.
		setDefault(q, "no_tmp_dir", "true")
	} else {
		if u.Host == "" {
			return nil, "", fmt.Errorf("bucket name missing: expected %s://bucket/prefix", u.Scheme)
		}
		if p := strings.Trim(u.Path, "/"); p != "" {
			if prefix != "" {
				return nil, "", errors.New("key prefix given twice: use either the path (bucket/prefix) or prefix=, not both")
			}
			for seg := range strings.SplitSeq(p, "/") {
				if seg == "" || seg == "." || seg == ".." {
					return nil, "", fmt.Errorf("key prefix %q has an empty, . or .. segment", p)
				}
			}
			prefix = p + "/"
		}
	}
	g.RawQuery = q.Encode()
	return g, prefix, nil
}

// checkQuery refuses parameters the scheme does not take, parameters given
// twice, an endpoint with credentials, and a SAS token sent elsewhere.
func checkQuery(scheme string, q url.Values, accepted []string) error {
	for k := range q {
		if !slices.Contains(accepted, k) {
			return fmt.Errorf("unknown query parameter %q for %s:// URLs: accepted are %s", k, scheme, strings.Join(accepted, ", "))
		}
		if len(q[k]) > 1 {
			return fmt.Errorf("query parameter %q is given more than once", k)
		}
	}
	if ep := q.Get("endpoint"); ep != "" {
		if eu, err := url.Parse(ep); err != nil || eu.User != nil || eu.Scheme == "" || eu.Host == "" {
			return errors.New("endpoint must be a URL such as https://s3.example.com:9000, without credentials")
		}
	}
	if scheme == "azblob" && os.Getenv("AZURE_STORAGE_SAS_TOKEN") != "" {
		// The SAS token travels with every request to the service URL;
		// it must not be sent to an endpoint the URL names.
		for _, k := range azureServiceParams {
			if q.Has(k) {
				return fmt.Errorf("query parameter %q cannot change the Azure service endpoint while AZURE_STORAGE_SAS_TOKEN is set", k)
			}
		}
	}
	return nil
}

func setDefault(q url.Values, k, v string) {
	if !q.Has(k) {
		q.Set(k, v)
	}
}

func schemeList() string {
	var s []string
	for k := range schemes {
		s = append(s, k+"://")
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// Redact returns spec as it is safe to show: without user information or
// fragment, and with every query value that could identify or hold a
// credential replaced by REDACTED. A plain path comes back unchanged.
func Redact(spec string) string {
	u, err := url.Parse(spec)
	if err != nil {
		if scheme, _, ok := strings.Cut(spec, "://"); ok && isSchemeName(scheme) {
			return scheme + "://" + redacted
		}
		return redacted
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.Opaque != "" {
		u.Opaque = redacted
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i, v := range vs {
				switch {
				case !shownParams[k]:
					vs[i] = redacted
				case k == "endpoint":
					if eu, err := url.Parse(v); err != nil {
						vs[i] = redacted
					} else if eu.User != nil {
						eu.User = nil
						vs[i] = eu.String()
					}
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	shown := u.String()
	if u.Host == "" && u.Path == "" && u.Opaque == "" && strings.HasPrefix(spec, u.Scheme+"://") {
		// url.URL drops the // of an empty authority: keep scheme:// as given.
		shown = u.Scheme + "://" + strings.TrimPrefix(shown, u.Scheme+":")
	}
	return shown
}

func isSchemeName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// secrets lists the parts of spec that Redact hides, so that they can be
// cut out of error messages that quote them.
func secrets(spec string) []string {
	u, err := url.Parse(spec)
	if err != nil {
		return nil
	}
	var s []string
	if u.User != nil {
		s = append(s, u.User.Username())
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		}
	}
	for k, vs := range u.Query() {
		if !shownParams[k] {
			s = append(s, vs...)
		}
	}
	var out []string
	for _, v := range s {
		// Very short values would cut ordinary words out of messages.
		if len(v) >= 4 {
			out = append(out, v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
	return out
}

// Scrub replaces in text the spec and every value of it that Redact hides,
// for errors of storage SDKs that quote them.
func Scrub(spec, text string) string {
	if spec != "" {
		text = strings.ReplaceAll(text, spec, Redact(spec))
	}
	for _, v := range secrets(spec) {
		text = strings.ReplaceAll(text, v, redacted)
	}
	return text
}

// urlWord finds URL-shaped words in text: a scheme, ://, and what follows up
// to a space or a quote.
var urlWord = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]*`)

// nextURL finds where a comma starts another URL inside a word: lists of
// URLs are joined with commas.
var nextURL = regexp.MustCompile(`,[A-Za-z][A-Za-z0-9+.-]*://`)

// RedactText returns text with every URL-shaped word that could carry a
// credential replaced by its Redact form; words that hold none stay as they
// are. It is for text that may quote a configured value: log lines, errors,
// the summary.
func RedactText(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlWord.ReplaceAllStringFunc(text, func(word string) string {
		var b strings.Builder
		for {
			loc := nextURL.FindStringIndex(word)
			if loc == nil {
				b.WriteString(redactWord(word))
				return b.String()
			}
			b.WriteString(redactWord(word[:loc[0]]))
			b.WriteByte(',')
			word = word[loc[0]+1:]
		}
	})
}

// redactWord is Redact for a URL found in text, which leaves a URL that
// shows nothing secret exactly as written. Punctuation that ends the word
// ("dial https://host:2379: refused") is not part of the URL.
func redactWord(word string) string {
	trimmed := strings.TrimRight(word, ".,:;)]}")
	return redactURL(trimmed) + word[len(trimmed):]
}

func redactURL(word string) string {
	u, err := url.Parse(word)
	if err != nil {
		if strings.ContainsAny(word, "@?#") {
			return Redact(word)
		}
		return word
	}
	if u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return Redact(word)
	}
	for k, vs := range u.Query() {
		if !shownParams[k] {
			return Redact(word)
		}
		for _, v := range vs {
			if k == "endpoint" && redactURL(v) != v {
				return Redact(word)
			}
		}
	}
	return word
}

// Resolve returns the directory dir (absolute and clean) with the symlinks
// of its existing part resolved, so that two spellings of one directory
// compare equal before it exists. It only reads the filesystem.
func Resolve(dir string) (string, error) {
	existing, rest := dir, ""
	for {
		real, err := filepath.EvalSymlinks(existing)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("resolving %s: %w", existing, err)
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return dir, nil
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
}
