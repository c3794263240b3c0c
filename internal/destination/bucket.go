package destination

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
	"gocloud.dev/gcp"
	"google.golang.org/api/googleapi"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/etcd-backup/etcd-backup/internal/location"
)

// Upload tuning. Every driver holds the parts it is sending in memory: the S3
// transfer manager keeps concurrency+1 part buffers plus its first 16 MiB
// read, Azure concurrency blocks, GCS one chunk. 8 MiB parts with 4 in flight
// bound that at about 56 MiB for S3 and less for the others, which fits the
// small memory limit a backup Job runs under, while four requests in flight
// keep a link to a cloud store busy; larger parts cost memory without
// raising throughput. The part size grows only when a file would need more
// than S3's 10,000 parts (above 78 GiB).
const (
	uploadPartSize    = 8 << 20
	uploadConcurrency = 4
	uploadMaxParts    = 10000
)

// Bucket is an object storage destination: a bucket (or container), or a
// key prefix inside one, opened through gocloud.dev/blob.
type Bucket struct {
	spec   string // as configured; shown only through location.Redact
	bucket *blob.Bucket
	name   string // the bucket or container
	prefix string // the key prefix inside it
}

var _ Destination = (*Bucket)(nil)

// openBucket opens an object storage URL (see location.Parse for the forms
// accepted). Credentials come only from where each SDK looks for them
// (environment, mounted files, workload identity). Errors name what was
// wrong but not the URL itself: callers show it with location.Redact.
func openBucket(ctx context.Context, spec string) (*Bucket, error) {
	s, err := location.Parse(spec)
	if err != nil {
		return nil, err
	}
	if s.Local() {
		return nil, fmt.Errorf("%s is a directory, not an object storage URL", s.Dir)
	}
	return openParsed(ctx, spec, s)
}

func openParsed(ctx context.Context, spec string, s location.Spec) (*Bucket, error) {
	b := &Bucket{spec: spec, name: s.Bucket.Host, prefix: s.Prefix}
	bucket, err := openBlobURL(ctx, s.Bucket)
	if err != nil {
		return nil, b.scrub(err)
	}
	if s.Prefix != "" {
		bucket = blob.PrefixedBucket(bucket, s.Prefix)
	}
	b.bucket = bucket
	return b, nil
}

func openBlobURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	switch u.Scheme {
	case "azblob":
		// gocloud's default azblob opener reads the AZURE_STORAGE_*
		// variables once per process; this one reads them at every open.
		o := &azureblob.URLOpener{
			MakeClient:        azureblob.NewDefaultClient,
			ServiceURLOptions: *azureblob.NewDefaultServiceURLOptions(),
		}
		return o.OpenBucketURL(ctx, u)
	case "gs":
		// Without credentials gocloud's opener prints a warning on stdout,
		// which carries the run summary, and goes on to fail later with a
		// less clear error. Look for them first, the same way it does.
		if os.Getenv("STORAGE_EMULATOR_HOST") == "" && os.Getenv("STORAGE_EMULATOR_HOST_GRPC") == "" && u.Query().Get("anonymous") != "true" {
			if _, err := gcp.DefaultCredentials(ctx); err != nil {
				return nil, fmt.Errorf("no Google Cloud credentials found (GOOGLE_APPLICATION_CREDENTIALS, the gcloud default credentials file, or workload identity): %w", err)
			}
		}
	}
	return blob.DefaultURLMux().OpenBucketURL(ctx, u)
}

// scrub returns err with the URL and any hidden value in its text replaced;
// errors.Is and errors.As still see the original.
func (b *Bucket) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := location.Scrub(b.spec, msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// explain scrubs err and says what a refusal by the service means; the
// services' own texts for it ("Forbidden") do not name a cause. A missing
// object becomes fs.ErrNotExist, as for a directory.
func (b *Bucket) explain(err error) error {
	err = b.scrub(err)
	if code, ok := sdkStatus(err); ok {
		err = withStatus{err, code}
	}
	switch gcerrors.Code(err) {
	case gcerrors.PermissionDenied:
		return fmt.Errorf("access denied: check the credentials and their permissions on the bucket: %w", err)
	case gcerrors.NotFound:
		return notExist{err}
	}
	return err
}

// sdkStatus is the HTTP status an Azure or Google SDK error carries (the AWS
// SDK's errors have an HTTPStatusCode method of their own).
func sdkStatus(err error) (int, bool) {
	var az *azcore.ResponseError
	if errors.As(err, &az) {
		return az.StatusCode, true
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code, true
	}
	return 0, false
}

// withStatus gives an SDK error the HTTPStatusCode method through which
// package retry tells a failing service (5xx, 408, 429) from a refusal.
type withStatus struct {
	error
	code int
}

func (e withStatus) Unwrap() error       { return e.error }
func (e withStatus) HTTPStatusCode() int { return e.code }

// notExist is a not-found error of a storage SDK that errors.Is also
// recognises as fs.ErrNotExist; its text is the SDK's.
type notExist struct{ error }

func (e notExist) Unwrap() error        { return e.error }
func (e notExist) Is(target error) bool { return target == fs.ErrNotExist }

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// String names the bucket without credentials.
func (b *Bucket) String() string { return location.Redact(b.spec) }

// Upload copies the file at path to the object name. It streams the file
// (memory use is bounded by the part size and concurrency above), refuses to
// replace an existing object, and leaves no object under name unless the
// whole file arrived: a failed upload is aborted by cancelling its context
// before the writer is closed, which makes every driver drop what it sent.
// The object's size is checked after the upload.
func (b *Bucket) Upload(ctx context.Context, name, path string, meta Metadata) (Object, error) {
	obj, err := b.uploadFile(ctx, name, path, meta)
	if err != nil {
		return Object{}, fmt.Errorf("uploading %s to %s: %w", name, b, b.explain(err))
	}
	return obj, nil
}

func (b *Bucket) uploadFile(ctx context.Context, name, path string, meta Metadata) (Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return Object{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Object{}, err
	}
	return b.upload(ctx, name, f, st.Size(), path, meta, true)
}

// upload sends size bytes from r (read from source, for errors) to name.
// checkFirst=false leaves the protection against replacing an object to the
// storage service alone.
func (b *Bucket) upload(ctx context.Context, name string, r io.Reader, size int64, source string, meta Metadata, checkFirst bool) (Object, error) {
	if checkFirst {
		// The conditional write below is what makes this safe; asking first
		// gives a clear error, also from stores that ignore the condition.
		exists, err := b.bucket.Exists(ctx, name)
		if err != nil {
			return Object{}, fmt.Errorf("checking whether %s exists: %w", name, err)
		}
		if exists {
			return Object{}, fmt.Errorf("%w: an object named %s is there already and is never replaced", fs.ErrExist, name)
		}
	}

	partSize := int64(uploadPartSize)
	if need := (size + uploadMaxParts - 1) / uploadMaxParts; need > partSize {
		partSize = (need + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	}
	slog.DebugContext(ctx, "uploading", "destination", b.String(), "name", name, "bytes", size,
		"part_bytes", partSize, "concurrency", uploadConcurrency)
	start := time.Now()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Bucket.Upload hands the reader to the driver's own streaming upload
	// where it has one (S3, Azure; gocloud v0.47's Azure writer panics when
	// Close follows a failed Write), else copies it through the writer. Either
	// way Close comes right after the last read, so a failed read must cancel
	// the upload before it returns: see abortingReader.
	err := b.bucket.Upload(wctx, name, &abortingReader{r: r, want: size, cancel: cancel, source: source}, &blob.WriterOptions{
		BufferSize:     int(partSize),
		MaxConcurrency: uploadConcurrency,
		ContentType:    "application/octet-stream",
		Metadata:       objectMetadata(meta),
		IfNotExist:     true,
		BeforeWrite:    privateFile,
	})
	if err != nil {
		if aerr := b.abortUploads(ctx, name, start); aerr != nil {
			err = fmt.Errorf("%w; and removing the unfinished upload failed: %w", err, aerr)
		}
		if gcerrors.Code(err) == gcerrors.FailedPrecondition {
			return Object{}, fmt.Errorf("%w: an object named %s appeared during the upload and was not replaced: %w", fs.ErrExist, name, err)
		}
		return Object{}, err
	}

	attrs, err := b.bucket.Attributes(ctx, name)
	if err != nil {
		return Object{}, fmt.Errorf("checking the uploaded object: %w", err)
	}
	if attrs.Size != size {
		derr := b.bucket.Delete(ctx, name)
		if derr != nil {
			return Object{}, fmt.Errorf("the uploaded object has %d bytes, the file %d, and removing it failed: %w", attrs.Size, size, derr)
		}
		return Object{}, fmt.Errorf("the uploaded object had %d bytes, the file %d; removed it", attrs.Size, size)
	}
	secs := time.Since(start).Seconds()
	slog.DebugContext(ctx, "uploaded", "destination", b.String(), "name", name, "bytes", size,
		"seconds", secs, "mib_per_second", float64(size)/(1<<20)/max(secs, 1e-9))
	return Object{Name: name, ModTime: attrs.ModTime, Size: attrs.Size}, nil
}

// cleanupTimeout bounds the cleanup after a failed upload. It runs on a
// context of its own: after SIGTERM the run's context has ended, and the
// cleanup must still reach the store, briefly, before the Pod is killed.
const cleanupTimeout = 10 * time.Second

// abortUploads aborts the S3 multipart uploads of name begun since start.
// The SDK aborts a failed upload itself, but with the upload's context: a
// cancelled upload (SIGTERM) would leave its parts stored, and billed, until
// a lifecycle rule removes them. Other stores keep no unfinished upload
// under a name (Azure's uncommitted blocks and Google's resumable sessions
// expire on their own).
func (b *Bucket) abortUploads(ctx context.Context, name string, start time.Time) error {
	var client *s3.Client
	if !b.bucket.As(&client) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	key := b.prefix + name
	out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b.name), Prefix: aws.String(key)})
	if err != nil {
		return fmt.Errorf("listing unfinished uploads: %w", b.scrub(err))
	}
	var errs []error
	for _, u := range out.Uploads {
		// Only this run's: the exact name, begun since this upload began
		// (allowing for the store's clock).
		if aws.ToString(u.Key) != key || aws.ToTime(u.Initiated).Before(start.Add(-time.Minute)) {
			continue
		}
		_, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.name), Key: u.Key, UploadId: u.UploadId})
		if err != nil {
			errs = append(errs, b.scrub(err))
			continue
		}
		slog.DebugContext(ctx, "aborted an unfinished upload", "destination", b.String(), "name", name)
	}
	return errors.Join(errs...)
}

// objectMetadata is what travels with the object; empty values are left
// out, since not every store takes an empty metadata value.
func objectMetadata(meta Metadata) map[string]string {
	md := map[string]string{}
	for k, v := range map[string]string{
		"sha256":       meta.SHA256,
		"plain-sha256": meta.PlainSHA256,
		"revision":     strconv.FormatInt(meta.Revision, 10),
		"etcd-version": meta.EtcdVersion,
		"tool-version": meta.ToolVersion,
	} {
		if v != "" {
			md[k] = v
		}
	}
	return md
}

// abortingReader reads the file being uploaded. On a read error, or when
// the file ends at another size than it had at the start, it cancels the
// upload's context before reporting the error, so that the writer's Close
// aborts instead of completing an object from a partial file.
type abortingReader struct {
	r      io.Reader
	n      int64
	want   int64
	cancel context.CancelFunc
	source string
}

func (a *abortingReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.n += int64(n)
	switch {
	case err == nil && a.n > a.want:
		err = fmt.Errorf("%s grew during the upload: more than %d bytes", a.source, a.want)
	case errors.Is(err, io.EOF) && a.n != a.want:
		err = fmt.Errorf("%s changed during the upload: read %d bytes, expected %d", a.source, a.n, a.want)
	case errors.Is(err, io.EOF):
		return n, err
	case err != nil:
		err = fmt.Errorf("reading %s: %w", a.source, err)
	default:
		return n, nil
	}
	a.cancel()
	return n, err
}

// privateFile makes a file:// object readable by its owner only: a snapshot
// holds every Secret of the cluster. Other drivers have no file to change.
func privateFile(as func(any) bool) error {
	var f *os.File
	if as(&f) {
		return f.Chmod(0o600)
	}
	return nil
}

// List returns the objects directly under the bucket's prefix whose names
// start with prefix, with the modification times the store reports.
func (b *Bucket) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	it := b.bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", b, b.explain(err))
		}
		if o.IsDir {
			continue
		}
		out = append(out, Object{Name: o.Key, ModTime: o.ModTime, Size: o.Size})
	}
}

// Delete removes one object.
func (b *Bucket) Delete(ctx context.Context, name string) error {
	if err := b.bucket.Delete(ctx, name); err != nil {
		return fmt.Errorf("deleting %s from %s: %w", name, b, b.explain(err))
	}
	return nil
}

// Streams is false: a bucket takes the verified file through Upload.
func (b *Bucket) Streams() bool { return false }

// Create refuses: a bucket receives the verified file through Upload.
func (b *Bucket) Create(string) (Pending, error) {
	return nil, fmt.Errorf("%s receives verified snapshots by upload, not while they stream in", b)
}

// Stale finds nothing: an upload that fails is aborted and leaves no
// object behind.
func (b *Bucket) Stale(context.Context, string, time.Time) ([]Object, error) { return nil, nil }

// Close releases the bucket's clients.
func (b *Bucket) Close() error {
	if err := b.bucket.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", b, b.scrub(err))
	}
	return nil
}
