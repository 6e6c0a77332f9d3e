package detect

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lowmem/harvester-network-webhook/detect/detecttest"
)

// reviewer answers SelfSubjectAccessReviews: allowed for the resources in
// granted, with status left out for "undecided".
func reviewer(granted map[string]bool) *dynamicfake.FakeDynamicClient {
	c := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	c.PrependReactor("create", "selfsubjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		review := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured).DeepCopy()
		attrs, _, _ := unstructured.NestedStringMap(review.Object, "spec", "resourceAttributes")
		gr := schema.GroupResource{Group: attrs["group"], Resource: attrs["resource"]}
		if gr.Resource == "undecided" {
			return true, review, nil
		}
		what := attrs["verb"] + " " + gr.String()
		if attrs["name"] != "" {
			what += " named " + attrs["name"]
		}
		if err := unstructured.SetNestedField(review.Object, granted[what], "status", "allowed"); err != nil {
			return true, nil, err
		}
		return true, review, nil
	})
	return c
}

func TestAPIClusterAsksAccessReviews(t *testing.T) {
	c := APICluster{Dynamic: reviewer(map[string]bool{
		"list virtualmachines.kubevirt.io":                                              true,
		"watch customresourcedefinitions.apiextensions.k8s.io named subnets.kubeovn.io": true,
	})}
	crds := schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	for _, tc := range []struct {
		verb string
		gr   schema.GroupResource
		name string
		want bool
	}{
		{"list", schema.GroupResource{Group: "kubevirt.io", Resource: "virtualmachines"}, "", true},
		{"watch", schema.GroupResource{Group: "kubevirt.io", Resource: "virtualmachines"}, "", false},
		{"list", schema.GroupResource{Group: "kubeovn.io", Resource: "subnets"}, "", false},
		{"watch", crds, "subnets.kubeovn.io", true},
		{"watch", crds, "", false},
	} {
		got, err := c.Allowed(t.Context(), tc.verb, tc.gr, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("%s %s %s: %v, %v; want %v", tc.verb, tc.gr, tc.name, got, err, tc.want)
		}
	}
	if _, err := c.Allowed(t.Context(), "list", schema.GroupResource{Resource: "undecided"}, ""); !errors.Is(err, errNotAnswered) {
		t.Errorf("a review without status: %v, want errNotAnswered", err)
	}
}

func partial(gvk schema.GroupVersionKind, namespace, name string, labels map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
	}
}

// metadataClient serves objs as the metadata client does.
func metadataClient(objs ...*metav1.PartialObjectMetadata) *metadatafake.FakeMetadataClient {
	scheme := metadatafake.NewTestScheme()
	ros := make([]runtime.Object, len(objs))
	for n, o := range objs {
		gvk := o.GroupVersionKind()
		scheme.AddKnownTypeWithName(gvk, &metav1.PartialObjectMetadata{})
		scheme.AddKnownTypeWithName(gvk.GroupVersion().WithKind(gvk.Kind+"List"), &metav1.PartialObjectMetadataList{})
		ros[n] = o
	}
	return metadatafake.NewSimpleMetadataClient(scheme, ros...)
}

func TestAPIClusterTellsInstalledCRDs(t *testing.T) {
	crd := partial(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"},
		"", "virtualmachines.kubevirt.io", nil)
	c := APICluster{Metadata: metadataClient(crd)}
	for name, want := range map[string]bool{"virtualmachines.kubevirt.io": true, "hostnetworkconfigs.network.harvesterhci.io": false} {
		if got, err := c.CRDInstalled(t.Context(), name); err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}
}

// secrets serves Secrets by name, as the typed client does.
type secrets map[string]*corev1.Secret

func (s secrets) Get(_ context.Context, name string, _ metav1.GetOptions) (*corev1.Secret, error) {
	if sec, ok := s[name]; ok {
		return sec, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

// helmCluster holds revisions of Helm releases in harvester-system, each a
// metadata object and a Secret with the chart version given.
func helmCluster(revisions map[string]string) APICluster {
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	var objs []*metav1.PartialObjectMetadata
	full := secrets{}
	for name, chart := range revisions {
		parts := strings.Split(name, ".") // sh.helm.release.v1.<release>.v<revision>
		release, revision := parts[4], strings.TrimPrefix(parts[5], "v")
		objs = append(objs, partial(gvk, "harvester-system", name,
			map[string]string{"owner": "helm", "name": release, "version": revision, "status": "superseded"}))
		full[name] = &corev1.Secret{Data: map[string][]byte{"release": detecttest.ReleaseData(chart)}}
	}
	return APICluster{
		Metadata:  metadataClient(objs...),
		Secrets:   full,
		Namespace: "harvester-system",
	}
}

func TestChartVersionReadsTheNewestRevision(t *testing.T) {
	c := helmCluster(map[string]string{
		"sh.helm.release.v1.harvester.v9":      "1.5.2",
		"sh.helm.release.v1.harvester.v10":     "1.6.1", // newer than v9, though it sorts first
		"sh.helm.release.v1.harvester.v2":      "1.4.3",
		"sh.helm.release.v1.rancher.v30":       "2.11.0",
		"sh.helm.release.v1.harvester-crd.v11": "1.7.0",
	})
	if got, err := c.ChartVersion(t.Context()); err != nil || got != "1.6.1" {
		t.Errorf("ChartVersion = %q, %v; want 1.6.1", got, err)
	}
	if got, err := helmCluster(nil).ChartVersion(t.Context()); err != nil || got != "" {
		t.Errorf("no release: ChartVersion = %q, %v; want none", got, err)
	}
}

func TestChartVersionOfAnUnreadableReleaseIsNoted(t *testing.T) {
	c := helmCluster(map[string]string{"sh.helm.release.v1.harvester.v1": "1.6.1"})
	c.Secrets.(secrets)["sh.helm.release.v1.harvester.v1"].Data["release"] = []byte("not base64!")
	if _, err := c.ChartVersion(t.Context()); err == nil || !strings.Contains(err.Error(), "unreadable: Secret sh.helm.release.v1.harvester.v1: not base64") {
		t.Errorf("error %v, want it to name the Secret and the cause", err)
	}
}

func b64(s string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(s))) }

func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}

func TestReleaseChartVersion(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	for name, tc := range map[string]struct {
		stored  []byte
		want    string
		wantErr string
	}{
		"gzipped, Helm's order": {stored: detecttest.ReleaseData("1.9.0-rc6"), want: "1.9.0-rc6"},
		"plain JSON":            {stored: b64(`{"chart":{"metadata":{"version":"1.4.3"}}}`), want: "1.4.3"},
		"chart after the manifest": {
			stored: b64(gzipped(`{"manifest":"` + big + `","chart":{"lock":null,"metadata":{"name":"harvester","version":"1.8.2"}}}`)), want: "1.8.2"},
		"not base64":        {stored: []byte("%%%"), wantErr: "not base64"},
		"not JSON":          {stored: b64("[1,2]"), wantErr: `looking for "chart": not an object`},
		"no chart":          {stored: b64(`{"name":"harvester"}`), wantErr: `no "chart"`},
		"no version":        {stored: b64(`{"chart":{"metadata":{"name":"harvester"}}}`), wantErr: "no chart version"},
		"truncated gzip":    {stored: b64(gzipped(`{"chart":{"metadata":{"version":"1.6.1"}}}`)[:12]), wantErr: "EOF"},
		"metadata not JSON": {stored: b64(`{"chart":{"metadata":"1.6.1"}}`), wantErr: "chart metadata"},
	} {
		got, err := releaseChartVersion(tc.stored)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %q, %v; want an error containing %q", name, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, tc.want)
		}
	}
}
