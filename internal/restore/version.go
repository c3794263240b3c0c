package restore

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// Version is an etcd major.minor.
type Version struct{ Major, Minor int }

func (v Version) String() string {
	if v == (Version{}) {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// Less orders versions.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

// versionRE accepts 3.6, 3.6.16, v3.6.16 and image tags such as 3.5.15-0.
var versionRE = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)(\.[0-9]+)?(-[0-9A-Za-z.-]+)?$`)

// ParseVersion reads an etcd version or image tag.
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not an etcd version; accepted: 3.6, 3.6.16, v3.6.16 or an image tag such as 3.5.15-0", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return Version{Major: major, Minor: minor}, nil
}

func targetVersion(s string) (Version, error) {
	if s == "" {
		return Version{}, nil
	}
	v, err := ParseVersion(s)
	if err != nil {
		return Version{}, fmt.Errorf("--target-version: %w", err)
	}
	return v, nil
}

// dataVersion is the etcd minor a snapshot's data belongs to: the storage
// version etcd 3.6 and later record in the meta bucket, else the cluster
// version etcd 3.4 and 3.5 record in the cluster bucket (zero when neither
// is there, as in a member's database before the cluster version was set).
func dataVersion(path string, st verify.Status) (Version, error) {
	if st.StorageVersion != "" {
		v, err := ParseVersion(st.StorageVersion)
		if err != nil {
			return Version{}, fmt.Errorf("reading the storage version of %s: %w", path, err)
		}
		return v, nil
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return Version{}, fmt.Errorf("reading the cluster version of %s: %w", path, err)
	}
	defer db.Close()
	var cv string
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("cluster")); b != nil {
			cv = string(b.Get([]byte("clusterVersion")))
		}
		return nil
	})
	if err != nil || cv == "" {
		return Version{}, err
	}
	v, err := ParseVersion(cv)
	if err != nil {
		return Version{}, fmt.Errorf("reading the cluster version of %s: %w", path, err)
	}
	return v, nil
}

// compatible refuses data that the target etcd cannot start on: etcd never
// downgrades its data, so a member must run the minor that wrote it (or,
// through a regular upgrade, the next one).
func compatible(data, target Version) error {
	if target == (Version{}) || data == (Version{}) {
		return nil
	}
	if target.Less(data) {
		return &RefusedError{Reason: fmt.Sprintf(
			"refusing to restore: the snapshot holds etcd %s data and the target is etcd %s; etcd does not start on data "+
				"written by a newer minor (it would refuse to downgrade the storage). Run etcd %s on the restored member "+
				"(--target-version %s), or restore a snapshot taken while the cluster ran %s", data, target, data, data, target)}
	}
	return nil
}
