package chart

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	chartDir    = "../../charts/etcd-backup"
	releaseName = "etcd-backup"
	namespace   = "kube-system"
	// A Kubernetes version the chart supports, for the rendering capabilities.
	kubeVersion = "v1.31.0"
)

// release is one rendered install of the chart.
type release struct {
	CronJob        *batchv1.CronJob
	DrillCronJob   *batchv1.CronJob
	PVC            *corev1.PersistentVolumeClaim
	ServiceAccount *corev1.ServiceAccount
	PrometheusRule *monitoringv1.PrometheusRule
	Notes          string
	// Manifests is every rendered file but NOTES.txt, in file name order, as
	// `helm template` prints them.
	Manifests string
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading chart %s: %v", chartDir, err)
	}
	return c
}

// render renders the chart as `helm install -n kube-system etcd-backup` would
// with the given values (YAML, as in a -f file): the kubeVersion constraint and
// the values schema are checked, then the templates run in strict mode.
func render(t *testing.T, valuesYAML string, opts ...func(*renderOptions)) (*release, error) {
	t.Helper()
	o := renderOptions{releaseName: releaseName, kubeVersion: kubeVersion}
	for _, f := range opts {
		f(&o)
	}
	c := loadChart(t)
	vals, err := chartutil.ReadValues([]byte(valuesYAML))
	if err != nil {
		t.Fatalf("test values are not YAML: %v", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(o.kubeVersion)
	if err != nil {
		t.Fatalf("kube version %q: %v", o.kubeVersion, err)
	}
	caps.KubeVersion = *kv
	if c.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(c.Metadata.KubeVersion, kv.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c.Metadata.KubeVersion, kv.String())
	}
	top, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{
		Name: o.releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(c, top)
	if err != nil {
		return nil, err
	}
	return decode(t, files)
}

type renderOptions struct {
	releaseName string
	kubeVersion string
}

func withReleaseName(n string) func(*renderOptions) {
	return func(o *renderOptions) { o.releaseName = n }
}
func withKubeVersion(v string) func(*renderOptions) {
	return func(o *renderOptions) { o.kubeVersion = v }
}

// decode sorts the rendered files and decodes every document strictly.
func decode(t *testing.T, files map[string]string) (*release, error) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	r := &release{}
	var manifests strings.Builder
	for _, name := range names {
		content := files[name]
		if path.Base(name) == "NOTES.txt" {
			r.Notes = content
			continue
		}
		if strings.TrimSpace(content) == "" {
			continue
		}
		fmt.Fprintf(&manifests, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(content))
		docs, err := splitDocuments(content)
		if err != nil {
			return nil, fmt.Errorf("splitting %s: %w", name, err)
		}
		for _, doc := range docs {
			if err := decodeDocument(r, doc); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	r.Manifests = manifests.String()
	return r, nil
}

func splitDocuments(content string) ([][]byte, error) {
	rd := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(content)))
	var docs [][]byte
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

// decodeDocument decodes one manifest into its API type the way the API
// server reads a request: case-sensitive field names, and unknown or duplicate
// fields are errors.
func decodeDocument(r *release, doc []byte) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("manifest is not valid YAML: %w", err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := k8sjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	var obj any
	switch tm.APIVersion + "/" + tm.Kind {
	case "batch/v1/CronJob":
		// The backup's, or the drill's (told apart by its component label).
		var cj **batchv1.CronJob = &r.CronJob
		if strings.Contains(string(doc), "app.kubernetes.io/component: drill\n") {
			cj = &r.DrillCronJob
		}
		if *cj != nil {
			return errors.New("a second CronJob")
		}
		*cj = &batchv1.CronJob{}
		obj = *cj
	case "v1/PersistentVolumeClaim":
		if r.PVC != nil {
			return errors.New("a second PersistentVolumeClaim")
		}
		r.PVC = &corev1.PersistentVolumeClaim{}
		obj = r.PVC
	case "v1/ServiceAccount":
		if r.ServiceAccount != nil {
			return errors.New("a second ServiceAccount")
		}
		r.ServiceAccount = &corev1.ServiceAccount{}
		obj = r.ServiceAccount
	case "monitoring.coreos.com/v1/PrometheusRule":
		if r.PrometheusRule != nil {
			return errors.New("a second PrometheusRule")
		}
		r.PrometheusRule = &monitoringv1.PrometheusRule{}
		obj = r.PrometheusRule
	default:
		return fmt.Errorf("unexpected manifest %s %s", tm.APIVersion, tm.Kind)
	}
	strictErrs, err := k8sjson.UnmarshalStrict(j, obj, k8sjson.DisallowDuplicateFields, k8sjson.DisallowUnknownFields)
	if err != nil {
		return fmt.Errorf("decoding %s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("decoding %s strictly: %w", tm.Kind, errors.Join(strictErrs...))
	}
	return nil
}

// checkGolden compares got with testdata/<name>.golden.yaml, or rewrites the
// file with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatalf("writing golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading golden file (run `go test ./internal/chart/ -update` to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("render differs from %s (run `go test ./internal/chart/ -update` after checking the change):\n%s", file, lineDiff(string(want), got))
	}
}

// lineDiff lists the first lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %q\n  got:  %q\n", i+1, wl, gl)
			if shown++; shown == 10 {
				b.WriteString("  ...\n")
				break
			}
		}
	}
	return b.String()
}
