package controlplane_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
)

const (
	crdDir    = "testdata/crds"
	namespace = "e2e"
	// restricted stands in for a ServiceAccount, as the webhook's identity will.
	restricted    = "system:serviceaccount:" + namespace + ":restricted"
	widgetsReader = "widgets-reader"
)

var (
	widgets      = schema.GroupVersionResource{Group: "e2e.example.com", Version: "v1", Resource: "widgets"}
	restrictedSA = controlplane.User{Name: restricted, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}}
)

func TestStartNamesTheMakeTargetWhenBinariesAreMissing(t *testing.T) {
	_, err := controlplane.Start(t.Context(), controlplane.Options{BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make bin/etcd") {
		t.Fatalf("Start with an empty bin dir: got error %v, want one naming `make bin/etcd`", err)
	}
}

func TestStartReportsAChildThatEndsEarly(t *testing.T) {
	binDir := t.TempDir()
	etcd, err := filepath.Abs("../../bin/etcd")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(etcd, filepath.Join(binDir, "etcd")); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\necho 'Error: unknown flag: --boom' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(binDir, "kube-apiserver"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = controlplane.Start(t.Context(), controlplane.Options{BinDir: binDir, Logf: t.Logf})
	if err == nil || !strings.Contains(err.Error(), "kube-apiserver ended early") || !strings.Contains(err.Error(), "unknown flag: --boom") {
		t.Fatalf("Start with a failing kube-apiserver: got error %v, want one with the end of its log", err)
	}
}

func TestControlPlane(t *testing.T) {
	cp, err := controlplane.Start(t.Context(), controlplane.Options{
		CRDDir: crdDir,
		Users:  []controlplane.User{restrictedSA},
		Logf:   t.Logf,
	})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			if err := cp.Stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})
	admin := clientset(t, cp.Config)

	t.Run("admin creates a namespace and a custom object", func(t *testing.T) {
		ctx := t.Context()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
		if _, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace: %v", err)
		}
		// The kubeconfig file must work on its own, as the webhook will use it.
		cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
		if err != nil {
			t.Fatalf("load %s: %v", cp.Kubeconfig, err)
		}
		dyn := dynamicClient(t, cfg)
		widget := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "e2e.example.com/v1",
			"kind":       "Widget",
			"metadata":   map[string]any{"name": "w1"},
			"spec":       map[string]any{"size": int64(3)},
		}}
		if _, err := dyn.Resource(widgets).Namespace(namespace).Create(ctx, widget, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create widget: %v", err)
		}
		got, err := dyn.Resource(widgets).Namespace(namespace).Get(ctx, "w1", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get widget: %v", err)
		}
		if size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); size != 3 {
			t.Errorf("widget spec.size = %d, want 3", size)
		}
		// The CRD's schema is enforced, so the CRD really is installed as written.
		widget.SetName("w2")
		_ = unstructured.SetNestedField(widget.Object, int64(0), "spec", "size")
		if _, err := dyn.Resource(widgets).Namespace(namespace).Create(ctx, widget, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("create widget with size 0: got %v, want Invalid", err)
		}
	})

	t.Run("a declared user is bound by RBAC like a ServiceAccount", func(t *testing.T) {
		path, _, err := cp.KubeconfigFor(restricted)
		if err != nil {
			t.Fatalf("KubeconfigFor: %v", err)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		bindWidgetsReader(t, admin)
		checkRestricted(t, cfg)
	})

	t.Run("an undeclared user is refused", func(t *testing.T) {
		if _, _, err := cp.KubeconfigFor("nobody"); err == nil {
			t.Error("KubeconfigFor(nobody) succeeded, want an error")
		}
	})

	t.Run("StartOrUse adopts the cluster named by E2E_KUBECONFIG", func(t *testing.T) {
		t.Setenv(controlplane.EnvKubeconfig, cp.Kubeconfig)
		ext, err := controlplane.StartOrUse(t.Context(), controlplane.Options{
			CRDDir: crdDir, // already installed: must be left alone
			Users:  []controlplane.User{restrictedSA},
			Logf:   t.Logf,
		})
		if err != nil {
			t.Fatalf("StartOrUse: %v", err)
		}
		if ext.Kubeconfig != cp.Kubeconfig {
			t.Errorf("Kubeconfig = %s, want %s", ext.Kubeconfig, cp.Kubeconfig)
		}
		// Here the user is impersonated, and must be held to the same rules.
		_, cfg, err := ext.KubeconfigFor(restricted)
		if err != nil {
			t.Fatalf("KubeconfigFor: %v", err)
		}
		checkRestricted(t, cfg)
		if err := ext.Stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if _, err := admin.CoreV1().Namespaces().Get(t.Context(), namespace, metav1.GetOptions{}); err != nil {
			t.Errorf("cluster unusable after stopping an adopted control plane: %v", err)
		}
	})

	stopped = true
	if err := cp.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case <-cp.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if _, err := os.Stat(cp.WorkDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir %s still there after Stop (stat: %v)", cp.WorkDir, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err == nil {
		t.Error("API server still answers after Stop")
	}
}

// bindWidgetsReader lets the restricted identity read widgets, nothing else.
func bindWidgetsReader(t *testing.T, admin kubernetes.Interface) {
	t.Helper()
	ctx := t.Context()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: widgetsReader},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{widgets.Group},
			Resources: []string{widgets.Resource},
			Verbs:     []string{"get", "list", "watch"},
		}},
	}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRole: %v", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: widgetsReader},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: widgetsReader},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: "restricted"}},
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRoleBinding: %v", err)
	}
}

// checkRestricted asserts that cfg may list widgets (once the authorizer has
// seen the binding) but not namespaces.
func checkRestricted(t *testing.T, cfg *rest.Config) {
	t.Helper()
	ctx := t.Context()
	dyn := dynamicClient(t, cfg)
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, lastErr = dyn.Resource(widgets).Namespace(namespace).List(ctx, metav1.ListOptions{})
		return lastErr == nil, nil
	})
	if err != nil {
		t.Fatalf("restricted user cannot list widgets: %v", lastErr)
	}
	_, err = clientset(t, cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("restricted user listing namespaces: got %v, want Forbidden", err)
	}
}

func clientset(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("create clientset: %v", err)
	}
	return c
}

func dynamicClient(t *testing.T, cfg *rest.Config) dynamic.Interface {
	t.Helper()
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("create dynamic client: %v", err)
	}
	return c
}
