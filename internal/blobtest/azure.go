package blobtest

import (
	"context"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// The storage emulator's fixed development account, the same in every
// azurite installation (documented by Microsoft; not a secret).
const (
	AzureAccount = "devstoreaccount1"
	AzureKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azure is a running azurite Blob service.
type Azure struct {
	Host      string // 127.0.0.1:port
	Endpoint  string // http://127.0.0.1:port/devstoreaccount1
	Container string // created at start

	p *proc
}

// StartAzure starts azurite's Blob service with a fresh directory and
// creates Container.
func StartAzure(t testing.TB) *Azure {
	t.Helper()
	bin := tool(t, filepath.Join("azurite", "node_modules", ".bin", "azurite-blob"), "the Azure Blob emulator azurite")
	dir := t.TempDir()
	a := &Azure{Container: "etcd-backup-test"}
	a.p = startProc(t, "azurite", bin, nil, func(port int) []string {
		return []string{
			"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir,
			"--skipApiVersionCheck", "--loose", "--silent",
			// It would otherwise report usage to a server on the internet.
			"--disableTelemetry",
		}
	})
	a.Host = a.p.addr()
	a.Endpoint = a.p.baseURL() + "/" + AzureAccount
	a.CreateContainer(t, a.Container)
	return a
}

// URL is the destination URL of prefix (may be empty) in Container. A
// domain of 127.0.0.1:port makes gocloud address the account in the path,
// as the emulator expects.
func (a *Azure) URL(prefix string) string {
	q := url.Values{"protocol": {"http"}, "domain": {a.Host}}
	return (&url.URL{Scheme: "azblob", Host: a.Container, Path: "/" + prefix, RawQuery: q.Encode()}).String()
}

// Env gives a process the emulator account's shared key, and only that.
func (a *Azure) Env() []string {
	return []string{
		"AZURE_STORAGE_ACCOUNT=" + AzureAccount,
		"AZURE_STORAGE_KEY=" + AzureKey,
		"AZURE_STORAGE_SAS_TOKEN=",
		"AZURE_STORAGE_CONNECTION_STRING=",
		"AZURE_STORAGEBLOB_CONNECTIONSTRING=",
		"AZURE_STORAGE_DOMAIN=",
		"AZURE_STORAGE_PROTOCOL=",
		"AZURE_STORAGE_IS_CDN=",
		"AZURE_STORAGE_IS_LOCAL_EMULATOR=",
	}
}

// SetEnv sets Env for the rest of the test.
func (a *Azure) SetEnv(t testing.TB) { t.Helper(); setEnv(t, a.Env()) }

// CreateContainer creates another container.
func (a *Azure) CreateContainer(t testing.TB, name string) {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(AzureAccount, AzureKey)
	if err != nil {
		t.Fatalf("azurite credential: %v", err)
	}
	c, err := container.NewClientWithSharedKeyCredential(a.Endpoint+"/"+name, cred, nil)
	if err != nil {
		t.Fatalf("azurite container client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatalf("creating container %s on %s: %v", name, a.Endpoint, err)
	}
}
