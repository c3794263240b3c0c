package chart

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

// cluster answers the chart's lookup calls from objects in client-go's
// in-memory object store, as an API server holding them would. make e2e runs
// the same checks against a real API server.
type cluster []runtime.Object

var clusterKinds = map[string]struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}{
	"v1/Namespace":                   {schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false},
	"v1/PersistentVolumeClaim":       {schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, true},
	"storage.k8s.io/v1/StorageClass": {schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}, false},
}

func (c cluster) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	k, ok := clusterKinds[apiVersion+"/"+kind]
	if !ok {
		return nil, false, fmt.Errorf("the chart looked up %s %s, which the test cluster does not serve", apiVersion, kind)
	}
	lists := map[schema.GroupVersionResource]string{}
	for name, k := range clusterKinds {
		lists[k.gvr] = name[strings.LastIndex(name, "/")+1:] + "List"
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, c...)
	return client.Resource(k.gvr), k.namespaced, nil
}

func object(apiVersion, kind, namespace, name string, annotations, labels map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "annotations": annotations, "labels": labels}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}}
}

func storageClass(name string, annotations map[string]any) *unstructured.Unstructured {
	return object("storage.k8s.io/v1", "StorageClass", "", name, annotations, nil)
}

func kubeSystem(labels map[string]any) *unstructured.Unstructured {
	return object("v1", "Namespace", "", namespace, nil, labels)
}

// TestStorageClassRequired: a claim that would wait forever for a default
// StorageClass is refused at install, naming the ways out; everything that
// binds, or needs no claim, installs.
func TestStorageClassRequired(t *testing.T) {
	isDefault := map[string]any{"storageclass.kubernetes.io/is-default-class": "true"}
	ways := []string{"no default StorageClass", "pvcBackup.storageClass=", "pvcBackup.existingClaim=", "pvcBackup.enabled=false"}
	cases := []struct {
		name    string
		objects cluster
		values  string
		refused bool
	}{
		{"no storage class at all", cluster{kubeSystem(nil)}, "", true},
		{"only a class that is not the default", cluster{kubeSystem(nil), storageClass("slow", map[string]any{"storageclass.kubernetes.io/is-default-class": "false"})}, "", true},
		{"a default class", cluster{kubeSystem(nil), storageClass("slow", nil), storageClass("local-path", isDefault)}, "", false},
		{"a default class by the beta annotation", cluster{kubeSystem(nil), storageClass("old", map[string]any{"storageclass.beta.kubernetes.io/is-default-class": "true"})}, "", false},
		{"a class named", cluster{kubeSystem(nil)}, "pvcBackup: {storageClass: local}", false},
		{"static binding", cluster{kubeSystem(nil)}, `pvcBackup: {storageClass: "-"}`, false},
		{"an existing claim", cluster{kubeSystem(nil)}, "pvcBackup: {existingClaim: backups}", false},
		{"no claim", cluster{kubeSystem(nil)}, "pvcBackup: {enabled: false}", false},
		{"the claim exists (upgrade)", cluster{kubeSystem(nil), object("v1", "PersistentVolumeClaim", namespace, releaseName, nil, nil)}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values, withCluster(tc.objects))
			if !tc.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("installed a claim that no StorageClass will bind")
			}
			for _, w := range ways {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal does not name %q: %v", w, err)
				}
			}
		})
	}
}

// TestNotesWarnAboutPodSecurity: installing into a namespace whose Pod
// Security level forbids hostPath gives Jobs that never get a pod; NOTES.txt
// says so when the namespace's label shows it.
func TestNotesWarnAboutPodSecurity(t *testing.T) {
	withDefault := func(ns *unstructured.Unstructured) cluster {
		return cluster{ns, storageClass("local-path", map[string]any{"storageclass.kubernetes.io/is-default-class": "true"})}
	}
	for level, warned := range map[string]bool{"": false, "privileged": false, "baseline": true, "restricted": true} {
		t.Run("level "+level, func(t *testing.T) {
			labels := map[string]any{}
			if level != "" {
				labels["pod-security.kubernetes.io/enforce"] = level
			}
			r, err := render(t, "", withCluster(withDefault(kubeSystem(labels))))
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("WARNING: namespace %s enforces Pod Security level %q", namespace, level)
			if got := strings.Contains(r.Notes, want); got != warned {
				t.Errorf("NOTES.txt has the warning %v, want %v:\n%s", got, warned, r.Notes)
			}
		})
	}
}

// TestScheduleMatchesCronLibrary: the chart accepts a schedule exactly when
// the API server does, which parses it with robfig/cron/v3 ParseStandard and
// refuses a TZ prefix.
func TestScheduleMatchesCronLibrary(t *testing.T) {
	schedules := []string{
		"0 17 * * *", "*/15 * * * *", "0 0 1 1 *", "59 23 31 12 6", "0 0 * * 0",
		"0 25 * * *", "60 * * * *", "0 0 0 * *", "0 0 32 * *", "0 0 * 0 *", "0 0 * 13 *", "0 0 * * 7",
		"0 9-17 * * MON-FRI", "0 9 * JAN,jul *", "0 9 * * sun", "0 9 * * funday", "0 9 * * JAN", "0 9 1 MON *",
		"5/10 * * * *", "0-59/5 * * * *", "*/0 * * * *", "0 20-8 * * *", "0 17 * * 5-1", "0 17 * * 1-6/2",
		"1,2,3 * * * *", "1,,2 * * * *", "1, * * * *", "0-5-7 * * * *", "0/5/2 * * * *", "-1 * * * *", "a * * * *",
		"? ? ? ? ?", "0 17 ? * *", "0 17 * *", "0 17 * * * *", "0  17 * * *",
		"@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "@every 1h30m", "@every 5", "@fortnightly",
		"TZ=UTC 0 17 * * *", "CRON_TZ=Asia/Seoul 0 17 * * *",
	}
	for _, s := range schedules {
		t.Run(s, func(t *testing.T) {
			_, cronErr := cron.ParseStandard(s)
			apiAccepts := cronErr == nil && !strings.Contains(s, "TZ")
			_, err := render(t, "schedule: "+strconv.Quote(s))
			if (err == nil) != apiAccepts {
				t.Errorf("chart accepts %v (%v), API server accepts %v (cron: %v)", err == nil, err, apiAccepts, cronErr)
			}
		})
	}
}
