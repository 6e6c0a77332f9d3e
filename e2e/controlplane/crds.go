package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// crdGVR is addressed through the dynamic client, so the root module needs no
// dependency on k8s.io/apiextensions-apiserver just to install CRDs.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// establishTimeout bounds the wait for installed CRDs to be served.
const establishTimeout = 30 * time.Second

// loadCRDDir reads every .yaml, .yml and .json file under dir (recursively;
// none if dir is empty); each may hold several documents. Anything that is
// not a CustomResourceDefinition is an error, so a misplaced manifest is
// noticed rather than silently skipped.
func loadCRDDir(dir string) ([]*unstructured.Unstructured, error) {
	if dir == "" {
		return nil, nil
	}
	var crds []*unstructured.Unstructured
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := decodeCRDs(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		crds = append(crds, objs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load CRDs from %s: %w", dir, err)
	}
	return crds, nil
}

func decodeCRDs(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var crds []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return crds, nil
			}
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(obj) == 0 {
			continue // empty document, e.g. a leading "---"
		}
		u := &unstructured.Unstructured{Object: obj}
		if gvk := u.GroupVersionKind(); gvk.GroupKind() != (schema.GroupKind{Group: crdGVR.Group, Kind: "CustomResourceDefinition"}) {
			return nil, fmt.Errorf("document %d: %s %q is not a CustomResourceDefinition", doc, gvk, u.GetName())
		}
		crds = append(crds, u)
	}
}

// installCRDs creates each CRD that does not exist yet (an existing one is
// left as it is) and waits until all are established, i.e. served.
func installCRDs(ctx context.Context, cfg *rest.Config, crds []*unstructured.Unstructured, logf func(string, ...any)) error {
	if len(crds) == 0 {
		return nil
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create dynamic client: %w", err)
	}
	api := client.Resource(crdGVR)
	created := 0
	for _, crd := range crds {
		_, err := api.Create(ctx, crd, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
			logf("CRD %s already exists; leaving it as it is", crd.GetName())
		case err != nil:
			return fmt.Errorf("create CRD %s: %w", crd.GetName(), err)
		default:
			created++
		}
	}
	for _, crd := range crds {
		name := crd.GetName()
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, establishTimeout, true, func(ctx context.Context) (bool, error) {
			got, err := api.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return established(got), nil
		})
		if err != nil {
			return fmt.Errorf("wait for CRD %s to be established: %w", name, err)
		}
	}
	logf("%d CRDs established (%d created)", len(crds), created)
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		cond, ok := c.(map[string]any)
		if ok && cond["type"] == "Established" && cond["status"] == "True" {
			return true
		}
	}
	return false
}
