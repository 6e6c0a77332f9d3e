package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// benchNS holds every namespaced object of a scenario.
const benchNS = "bench"

// Scenario is the number of objects of each kind a load holds.
type Scenario struct {
	Name            string `json:"name"`
	CRDs            int    `json:"crds"`
	Secrets         int    `json:"secrets"`
	VMIs            int    `json:"vmis"`
	VMs             int    `json:"vms"`
	Nodes           int    `json:"nodes"`
	ClusterNetworks int    `json:"cluster_networks"`
	VlanConfigs     int    `json:"vlan_configs"`
	VlanStatuses    int    `json:"vlan_statuses"`
	NADs            int    `json:"nads"`
}

// scenarios are the loads of design §1 (L1, which OOM-kills upstream) and
// ten times it (L10, where our heap must stay under 64 MiB). L10's VM count
// and the spread of cluster networks, VlanConfigs and VlanStatuses are the
// issue's.
var scenarios = map[string]Scenario{
	"L1": {Name: "L1", CRDs: 150, Secrets: 500, VMIs: 2000, Nodes: 3,
		ClusterNetworks: 1, VlanConfigs: 1, VlanStatuses: 3, NADs: 10},
	// smoke has every kind of L10 at a few objects: a quick check of the
	// whole run.
	"smoke": {Name: "smoke", CRDs: 3, Secrets: 5, VMIs: 20, VMs: 10, Nodes: 3,
		ClusterNetworks: 2, VlanConfigs: 2, VlanStatuses: 4, NADs: 2},
	"L10": {Name: "L10", CRDs: 300, Secrets: 5000, VMIs: 20000, VMs: 10000, Nodes: 300,
		ClusterNetworks: 20, VlanConfigs: 100, VlanStatuses: 1000, NADs: 100},
}

// Sizes of the generated objects, as in the cluster where upstream was
// measured.
const (
	crdSchemaBytes   = 220 << 10
	secretBytes      = 48 << 10
	vmiBytes         = 5 << 10
	vmiAnnotation    = 2 << 10
	nodeBytes        = 12 << 10
	paddingAnnoKey   = "bench.example.com/padding"
	benchClusterNet  = "data"
	benchBridge      = "data-br"
	benchVlanConfig  = "vc-data"
	benchProbeNADPfx = "bench-api-"
)

// kindLoad generates the i-th object of one kind.
type kindLoad struct {
	what  string
	count int
	gen   func(i int) (*unstructured.Unstructured, error)
}

// kinds lists a scenario's objects in creation order: what the webhook's
// rules look up comes before what refers to it.
func (s Scenario) kinds() []kindLoad {
	return []kindLoad{
		{"namespaces", 2, func(i int) (*unstructured.Unstructured, error) {
			return obj(map[string]any{"apiVersion": "v1", "kind": "Namespace",
				"metadata": map[string]any{"name": []string{benchNS, harness.WebhookNamespace}[i]}}), nil
		}},
		{"crds", s.CRDs, crd},
		{"secrets", s.Secrets, secret},
		{"nodes", s.Nodes, node},
		{"clusternetworks", s.ClusterNetworks, clusterNetwork},
		{"vlanconfigs", s.VlanConfigs, s.vlanConfig},
		{"vlanstatuses", s.VlanStatuses, s.vlanStatus},
		{"nads", s.NADs, nad},
		{"vmis", s.VMIs, s.vmi},
		{"vms", s.VMs, s.vm},
	}
}

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

// load creates every object of s that does not exist yet, with workers
// goroutines, printing progress every two seconds.
func load(ctx context.Context, c *harness.Client, rc *rest.Config, s Scenario, workers int, logf func(string, ...any)) error {
	meta, err := metadata.NewForConfig(rc)
	if err != nil {
		return err
	}
	for _, k := range s.kinds() {
		if k.count == 0 {
			continue
		}
		began := time.Now()
		var created, existed, done atomic.Int64
		// Existing names come from a metadata list: re-sending hundreds of
		// megabytes only to hear "already exists" would dominate a re-run.
		have, err := existingNames(ctx, c, meta, k)
		if err != nil {
			return err
		}
		idx := make(chan int)
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := range idx {
					o, err := k.gen(i)
					if err == nil && have[o.GetName()] {
						existed.Add(1)
						done.Add(1)
						continue
					}
					if err == nil {
						err = createOrSkip(ctx, c, o, &created, &existed)
					}
					if err != nil {
						errs <- fmt.Errorf("%s %d: %w", k.what, i, err)
						return
					}
					done.Add(1)
				}
			})
		}
		tick := time.NewTicker(2 * time.Second)
		var firstErr error
	feed:
		for i := 0; i < k.count; i++ {
			for {
				select {
				case idx <- i:
					continue feed
				case firstErr = <-errs:
					break feed
				case <-ctx.Done():
					firstErr = ctx.Err()
					break feed
				case <-tick.C:
					logf("  %s: %d/%d", k.what, done.Load(), k.count)
				}
			}
		}
		close(idx)
		tick.Stop()
		wg.Wait()
		if firstErr == nil && len(errs) > 0 {
			firstErr = <-errs
		}
		if firstErr != nil {
			return firstErr
		}
		logf("  %s: %d created, %d existed (%s)", k.what, created.Load(), existed.Load(), time.Since(began).Round(time.Millisecond))
	}
	return nil
}

// existingNames lists the names of k's kind in the namespace of its
// first object.
func existingNames(ctx context.Context, c *harness.Client, meta metadata.Interface, k kindLoad) (map[string]bool, error) {
	first, err := k.gen(0)
	if err != nil {
		return nil, err
	}
	gvr, namespaced, err := c.ResourceFor(first)
	if err != nil {
		return nil, err
	}
	ri := meta.Resource(gvr)
	var list *metav1.PartialObjectMetadataList
	// A restarted API server answers 429 "storage is (re)initializing"
	// while its watch cache of a large kind fills.
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		if namespaced {
			list, err = ri.Namespace(first.GetNamespace()).List(ctx, metav1.ListOptions{})
		} else {
			list, err = ri.List(ctx, metav1.ListOptions{})
		}
		if !apierrors.IsTooManyRequests(err) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list %s: %w", k.what, err)
		case <-time.After(wait):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", k.what, err)
	}
	have := make(map[string]bool, len(list.Items))
	for _, o := range list.Items {
		have[o.Name] = true
	}
	return have, nil
}

// createOrSkip creates o unless it exists. Node status is reset on create by
// some API server versions, so it is written through /status when missing.
func createOrSkip(ctx context.Context, c *harness.Client, o *unstructured.Unstructured, created, existed *atomic.Int64) error {
	got, err := c.Create(ctx, o)
	if apierrors.IsAlreadyExists(err) {
		existed.Add(1)
		return nil
	}
	if err != nil {
		return err
	}
	created.Add(1)
	if o.GetKind() != "Node" {
		return nil
	}
	if _, ok, _ := unstructured.NestedSlice(got.Object, "status", "images"); ok {
		return nil
	}
	got.Object["status"] = o.Object["status"]
	ri, err := c.Resource(o)
	if err != nil {
		return err
	}
	_, err = ri.UpdateStatus(ctx, got, metav1.UpdateOptions{})
	return err
}

// crd is a CustomResourceDefinition of an unrelated group whose schema is
// about crdSchemaBytes of JSON: what upstream caches and we must not.
func crd(i int) (*unstructured.Unstructured, error) {
	group := fmt.Sprintf("bench%d.example.com", i)
	return obj(map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"kind": "Widget", "listKind": "WidgetList", "plural": "widgets", "singular": "widget"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "description": "A widget of benchmark group " + group + ".",
					"properties": map[string]any{"spec": bigSchema()},
				}},
			}},
		},
	}), nil
}

var (
	schemaOnce sync.Once
	schemaTmpl map[string]any
)

// bigSchema returns a nested object schema of about crdSchemaBytes; built
// once and shared read-only (the client only marshals it).
func bigSchema() map[string]any {
	schemaOnce.Do(func() {
		props := map[string]any{}
		schemaTmpl = map[string]any{"type": "object", "description": "Specification of the widget.", "properties": props}
		unit, _ := json.Marshal(nested(3))
		for f := 0; f*len(unit) < crdSchemaBytes; f++ {
			props[fmt.Sprintf("section%03d", f)] = nested(3)
		}
	})
	return schemaTmpl
}

// nested is an object schema depth levels deep, four properties a level.
func nested(depth int) map[string]any {
	desc := func(n string) string {
		return "The " + n + " setting of this section. " + strings.Repeat("It is described at length so that the schema is as large as real ones. ", 2)
	}
	props := map[string]any{}
	for p := range 4 {
		name := fmt.Sprintf("field%d", p)
		if depth == 0 {
			props[name] = map[string]any{"type": "string", "description": desc(name)}
			continue
		}
		props[name] = nested(depth - 1)
	}
	return map[string]any{"type": "object", "description": desc("nested"), "properties": props}
}

func secret(i int) (*unstructured.Unstructured, error) {
	data := make([]byte, secretBytes)
	if _, err := rand.Read(data); err != nil {
		return nil, err
	}
	return obj(map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": fmt.Sprintf("bench-secret-%d", i), "namespace": benchNS},
		"data":     map[string]any{"payload": base64.StdEncoding.EncodeToString(data)},
	}), nil
}

func nodeName(i int) string { return fmt.Sprintf("node-%d", i) }

// node is a Node of about nodeBytes: images and conditions as a kubelet
// reports them.
func node(i int) (*unstructured.Unstructured, error) {
	name := nodeName(i)
	var images []any
	for n := 0; n*183 < nodeBytes-1400; n++ { // about 183 bytes an image
		images = append(images, map[string]any{
			"names":     []any{fmt.Sprintf("registry.example.com/bench/image-%d@sha256:%064d", n, n), fmt.Sprintf("registry.example.com/bench/image-%d:v1.%d", n, n)},
			"sizeBytes": 100000000 + n,
		})
	}
	var conds []any
	for _, t := range []string{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"} {
		conds = append(conds, map[string]any{"type": t, "status": map[bool]string{true: "True", false: "False"}[t == "Ready"],
			"reason": "Kubelet" + t, "message": "kubelet reports " + t, "lastHeartbeatTime": "2026-11-20T08:15:30Z", "lastTransitionTime": "2026-11-20T08:15:30Z"})
	}
	return obj(map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": name, "labels": map[string]any{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"node-role.kubernetes.io/control-plane": "true",
		}},
		"spec": map[string]any{"providerID": "rke2://" + name},
		"status": map[string]any{
			"images": images, "conditions": conds,
			"addresses": []any{map[string]any{"type": "InternalIP", "address": fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)}},
			"capacity":  map[string]any{"cpu": "32", "memory": "128Gi", "pods": "200"},
		},
	}), nil
}

func clusterNetworkName(i int) string {
	if i == 0 {
		return benchClusterNet
	}
	return fmt.Sprintf("cn-%d", i)
}

// clusterNetwork carries its ready condition at create: the CRD has no
// status subresource.
func clusterNetwork(i int) (*unstructured.Unstructured, error) {
	return obj(map[string]any{
		"apiVersion": "network.harvesterhci.io/v1beta1", "kind": "ClusterNetwork",
		"metadata": map[string]any{"name": clusterNetworkName(i)},
		"status":   map[string]any{"conditions": []any{map[string]any{"type": "ready", "status": "True"}}},
	}), nil
}

func vlanConfigName(i int) string {
	if i == 0 {
		return benchVlanConfig
	}
	return fmt.Sprintf("vc-%d", i)
}

// vlanConfig 0 spans every node on cluster network "data"; further ones
// select one node each, over the scenario's cluster networks. The
// matched-nodes annotation the mutator would add is written here: no
// webhook runs while loading.
func (s Scenario) vlanConfig(i int) (*unstructured.Unstructured, error) {
	var nodes []string
	spec := map[string]any{
		"clusterNetwork": clusterNetworkName(i % s.ClusterNetworks),
		"uplink":         map[string]any{"nics": []any{"eth1"}, "linkAttributes": map[string]any{"mtu": int64(1500)}},
	}
	if i == 0 {
		for n := range min(s.Nodes, 3) {
			nodes = append(nodes, nodeName(n))
		}
	} else {
		nodes = []string{nodeName(i % s.Nodes)}
		spec["nodeSelector"] = map[string]any{"kubernetes.io/hostname": nodes[0]}
	}
	matched, _ := json.Marshal(nodes)
	return obj(map[string]any{
		"apiVersion": "network.harvesterhci.io/v1beta1", "kind": "VlanConfig",
		"metadata": map[string]any{"name": vlanConfigName(i),
			"labels":      map[string]any{"network.harvesterhci.io/clusternetwork": spec["clusterNetwork"]},
			"annotations": map[string]any{"network.harvesterhci.io/matched-nodes": string(matched)}},
		"spec": spec,
	}), nil
}

func (s Scenario) vlanStatus(i int) (*unstructured.Unstructured, error) {
	vc := i % s.VlanConfigs
	cn := clusterNetworkName(vc % s.ClusterNetworks)
	n := nodeName(i % s.Nodes)
	return obj(map[string]any{
		"apiVersion": "network.harvesterhci.io/v1beta1", "kind": "VlanStatus",
		"metadata": map[string]any{"name": fmt.Sprintf("%s-%s-%d", cn, n, i), "labels": map[string]any{
			"network.harvesterhci.io/clusternetwork": cn, "network.harvesterhci.io/vlanconfig": vlanConfigName(vc), "network.harvesterhci.io/node": n}},
		"status": map[string]any{"clusterNetwork": cn, "vlanConfig": vlanConfigName(vc), "linkMonitor": cn, "node": n,
			"conditions": []any{map[string]any{"type": "ready", "status": "True"}}},
	}), nil
}

func nadName(i int) string { return fmt.Sprintf("vlan-%d", i) }

func nadConfig(name string, vlan int) string {
	return fmt.Sprintf(`{"cniVersion":"0.3.1","name":%q,"type":"bridge","bridge":%q,"promiscMode":true,"vlan":%d,"ipam":{}}`, name, benchBridge, vlan)
}

func nadObject(name string, vlan int) map[string]any {
	return map[string]any{
		"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
		"metadata": map[string]any{"name": name, "namespace": benchNS, "labels": map[string]any{
			"network.harvesterhci.io/clusternetwork": benchClusterNet,
			"network.harvesterhci.io/type":           "L2VlanNetwork",
			"network.harvesterhci.io/vlan-id":        fmt.Sprint(vlan)}},
		"spec": map[string]any{"config": nadConfig(name, vlan)},
	}
}

func nad(i int) (*unstructured.Unstructured, error) { return obj(nadObject(nadName(i), i+1)), nil }

// padding is n bytes of annotation text.
func padding(n int) string { return strings.Repeat("x", n) }

// vmiSpec is the part of a VMI and a VM template the rules read, with the
// bulk of a real domain around it.
func vmiSpec(network string) map[string]any {
	var disks, volumes []any
	for d := range 4 {
		disks = append(disks, map[string]any{"name": fmt.Sprintf("disk-%d", d), "disk": map[string]any{"bus": "virtio"}, "bootOrder": int64(d + 1)})
		volumes = append(volumes, map[string]any{"name": fmt.Sprintf("disk-%d", d),
			"persistentVolumeClaim": map[string]any{"claimName": fmt.Sprintf("pvc-%s-%d", strings.ReplaceAll(network, "/", "-"), d)}})
	}
	return map[string]any{
		"domain": map[string]any{
			"cpu":       map[string]any{"cores": int64(2), "sockets": int64(1), "threads": int64(1)},
			"resources": map[string]any{"requests": map[string]any{"memory": "4Gi", "cpu": "2"}},
			"devices": map[string]any{"disks": disks, "interfaces": []any{
				map[string]any{"name": "default", "masquerade": map[string]any{}},
				map[string]any{"name": "nic-1", "bridge": map[string]any{}, "model": "virtio"}}},
		},
		"networks": []any{
			map[string]any{"name": "default", "pod": map[string]any{}},
			map[string]any{"name": "nic-1", "multus": map[string]any{"networkName": network}}},
		"volumes": volumes,
	}
}

// vmi is a running VMI of about vmiBytes on one of the scenario's nodes,
// using one of its NADs. VMI has no status subresource: status is created
// with it.
func (s Scenario) vmi(i int) (*unstructured.Unstructured, error) {
	n := nodeName(i % s.Nodes)
	network := benchNS + "/" + nadName(i%s.NADs)
	var conds []any
	for _, t := range []string{"Ready", "LiveMigratable", "AgentConnected", "Provisioning"} {
		conds = append(conds, map[string]any{"type": t, "status": "True", "lastProbeTime": nil,
			"lastTransitionTime": "2026-11-20T08:15:30Z", "message": "condition " + t + " " + padding(300)})
	}
	return obj(map[string]any{
		"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
		"metadata": map[string]any{"name": fmt.Sprintf("vmi-%d", i), "namespace": benchNS,
			"labels":      map[string]any{"kubevirt.io/nodeName": n, "harvesterhci.io/vmName": fmt.Sprintf("vmi-%d", i)},
			"annotations": map[string]any{paddingAnnoKey: padding(vmiAnnotation)}},
		"spec": vmiSpec(network),
		"status": map[string]any{"phase": "Running", "nodeName": n, "conditions": conds,
			"interfaces": []any{map[string]any{"name": "nic-1", "mac": "52:54:00:12:34:56", "ipAddress": "192.168.0.10", "interfaceName": "eth1"}}},
	}), nil
}

// vm is a VirtualMachine whose template uses one of the scenario's NADs.
func (s Scenario) vm(i int) (*unstructured.Unstructured, error) {
	network := benchNS + "/" + nadName(i%s.NADs)
	return obj(map[string]any{
		"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
		"metadata": map[string]any{"name": fmt.Sprintf("vm-%d", i), "namespace": benchNS,
			"annotations": map[string]any{paddingAnnoKey: padding(vmiAnnotation)}},
		"spec": map[string]any{"running": false, "template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"harvesterhci.io/vmName": fmt.Sprintf("vm-%d", i)}},
			"spec":     vmiSpec(network)}},
	}), nil
}
