package destination

import (
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"google.golang.org/api/googleapi"

	"github.com/etcd-backup/etcd-backup/internal/retry"
)

// TestSDKStatusReachesRetry checks that the HTTP status in an Azure or
// Google SDK error reaches package retry, which knows no SDK.
func TestSDKStatusReachesRetry(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"azure 503", &azcore.ResponseError{StatusCode: 503}, true},
		{"azure 403", &azcore.ResponseError{StatusCode: 403}, false},
		{"gcs 429", &googleapi.Error{Code: 429}, true},
		{"gcs 404", &googleapi.Error{Code: 404}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := fmt.Errorf("upload: %w", (&Bucket{}).explain(c.err))
			if got := retry.Transient(err); got != c.want {
				t.Fatalf("Transient(%v) = %v, want %v", err, got, c.want)
			}
		})
	}
}
