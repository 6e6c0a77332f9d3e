package informers

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// A VMI roughly as the API server sends it, managedFields included.
const vmiJSON = `{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{
"name":"%[1]s","namespace":"ns-%[2]d","uid":"6b1c6f0e-2f0e-4e7c-9d6a-%012[3]d","resourceVersion":"%[3]d","generation":4,
"creationTimestamp":"2026-11-20T08:15:30Z","labels":{"harvesterhci.io/vmName":"%[1]s","kubevirt.io/nodeName":"node-%[4]d",
"kubevirt.io/created-by":"0c2f4e8a"},"annotations":{"harvesterhci.io/sshNames":"[]","kubevirt.io/latest-observed-api-version":"v1",
"kubevirt.io/storage-observed-api-version":"v1"},"finalizers":["kubevirt.io/virtualMachineControllerFinalize","foregroundDeleteVirtualMachine"],
"ownerReferences":[{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","name":"%[1]s","uid":"0c2f4e8a-1111-2222-3333-444455556666","controller":true,"blockOwnerDeletion":true}],
"managedFields":[{"manager":"virt-controller","operation":"Update","apiVersion":"kubevirt.io/v1","time":"2026-11-20T08:15:30Z","fieldsType":"FieldsV1",
"fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:kubevirt.io/nodeName":{}}},"f:status":{".":{},"f:nodeName":{},"f:phase":{},"f:interfaces":{}}}}]},
"spec":{"domain":{"cpu":{"cores":2,"sockets":1,"threads":1},"devices":{"disks":[{"name":"disk-0","disk":{"bus":"virtio"},"bootOrder":1},
{"name":"cloudinitdisk","disk":{"bus":"virtio"}}],"interfaces":[{"name":"default","masquerade":{},"model":"virtio"},
{"name":"nic-1","bridge":{},"model":"virtio","macAddress":"52:54:00:12:34:56"}]},"features":{"acpi":{"enabled":true}},
"machine":{"type":"q35"},"memory":{"guest":"3996Mi"},"resources":{"limits":{"cpu":"2","memory":"4Gi"},"requests":{"cpu":"125m","memory":"2730Mi"}}},
"evictionStrategy":"LiveMigrate","hostname":"%[1]s","networks":[{"name":"default","pod":{}},{"name":"nic-1","multus":{"networkName":"ns-%[2]d/net-%[5]d"}}],
"terminationGracePeriodSeconds":120,"volumes":[{"name":"disk-0","persistentVolumeClaim":{"claimName":"%[1]s-disk-0"}},
{"name":"cloudinitdisk","cloudInitNoCloud":{"secretRef":{"name":"%[1]s-cloudinit"}}}]},
"status":{"nodeName":"node-%[4]d","phase":"Running","qosClass":"Burstable","interfaces":[{"name":"default","ipAddress":"10.52.0.%[4]d",
"mac":"52:54:00:ab:cd:ef","infoSource":"domain, guest-agent"}],"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-11-20T08:16:00Z"}],
"guestOSInfo":{"id":"ubuntu","name":"Ubuntu","version":"24.04"},"launcherContainerImageVersion":"registry.suse.com/suse/sles/15.6/virt-launcher:1.4.0"}}`

// A NAD as the metadata client receives it.
const nadJSON = `{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{
"name":"net-%[1]d","namespace":"ns-%[2]d","uid":"9a7c1f0e-2f0e-4e7c-9d6a-%012[1]d","resourceVersion":"%[1]d","generation":1,
"creationTimestamp":"2026-11-20T08:15:30Z","labels":{"network.harvesterhci.io/clusternetwork":"data","network.harvesterhci.io/ready":"true",
"network.harvesterhci.io/type":"L2VlanNetwork","network.harvesterhci.io/vlan-id":"%[1]d"},
"annotations":{"network.harvesterhci.io/route":"{\"mode\":\"auto\",\"serverIPAddr\":\"\",\"cidr\":\"\",\"gateway\":\"\"}",
"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"k8s.cni.cncf.io/v1\",\"kind\":\"NetworkAttachmentDefinition\",\"metadata\":{\"annotations\":{},\"name\":\"net\",\"namespace\":\"default\"},\"spec\":{\"config\":\"{\\\"cniVersion\\\":\\\"0.3.1\\\",\\\"name\\\":\\\"net\\\",\\\"type\\\":\\\"bridge\\\",\\\"bridge\\\":\\\"data-br\\\",\\\"promiscMode\\\":true,\\\"vlan\\\":100,\\\"ipam\\\":{}}\"}}"},
"finalizers":["wrangler.cattle.io/harvester-network-nad-controller"],
"managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"k8s.cni.cncf.io/v1","time":"2026-11-20T08:15:30Z",
"fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}},"f:spec":{".":{},"f:config":{}}}},
{"manager":"harvester-network-controller","operation":"Update","apiVersion":"k8s.cni.cncf.io/v1","time":"2026-11-20T08:15:31Z",
"fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:finalizers":{".":{},"v:\"wrangler.cattle.io/harvester-network-nad-controller\"":{}},
"f:labels":{".":{},"f:network.harvesterhci.io/clusternetwork":{},"f:network.harvesterhci.io/ready":{},"f:network.harvesterhci.io/type":{},"f:network.harvesterhci.io/vlan-id":{}}}}}]}}`

// BenchmarkCachedBytesPerObject reports the live heap each cached object
// costs in its cache (indexes and keys included), against what the
// untransformed object would cost in an informer's indexer. Run with
// -benchtime=1x; B/object is the figure, ns/op is irrelevant.
func BenchmarkCachedBytesPerObject(b *testing.B) {
	const n = 10_000
	p := &projector{kind: KindVMI, path: []string{"spec", "networks"}, node: []string{"status", "nodeName"}, logger: zap.NewNop()}
	vmiIndexers := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	nadIndexers := cache.Indexers{
		cache.NamespaceIndex:                cache.MetaNamespaceIndexFunc,
		labelIndexName(LabelClusterNetwork): labelIndexFunc(LabelClusterNetwork),
	}
	decodeVMI := func(i int) any {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(fmt.Appendf(nil, vmiJSON, fmt.Sprintf("vm-%05d", i), i%20, 100000+i, i%3, i%10)); err != nil {
			b.Fatal(err)
		}
		return u
	}
	decodeNAD := func(i int) any {
		m := &metav1.PartialObjectMetadata{}
		if err := json.Unmarshal(fmt.Appendf(nil, nadJSON, i, i%20), m); err != nil {
			b.Fatal(err)
		}
		return m
	}
	keep := func(obj any) (any, error) { return obj, nil }
	indexer := func(indexers cache.Indexers) func() adder {
		return func() adder { return cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, indexers) }
	}
	tests := []struct {
		name      string
		decode    func(int) any
		transform cache.TransformFunc
		newCache  func() adder
	}{
		{"vmi-projection", decodeVMI, p.transform, func() adder { return storeAdder{newProjectionStore(&atomic.Int64{})} }},
		{"vmi-full-unstructured", decodeVMI, keep, indexer(vmiIndexers)},
		{"nad-metadata-stripped", decodeNAD, stripMetadata, indexer(nadIndexers)},
		{"nad-metadata-untransformed", decodeNAD, keep, indexer(nadIndexers)},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			var perObject float64
			for b.Loop() {
				perObject = liveBytes(func() any {
					c := tt.newCache()
					for i := range n {
						obj, _ := tt.transform(tt.decode(i))
						if err := c.Add(obj); err != nil {
							b.Fatal(err)
						}
					}
					return c
				}) / n
			}
			b.ReportMetric(perObject, "B/object")
		})
	}
}

// adder is a cache being filled.
type adder interface{ Add(obj any) error }

// storeAdder fills a projection store as its controller does.
type storeAdder struct{ *projectionStore }

func (s storeAdder) Add(obj any) error { return s.put(obj) }

// BenchmarkProjectionHeapL10 reports the live heap of the projections of the
// benchmark's L10 (e2e/bench/scenario.go): 20,000 VMIs on 300 nodes and
// 10,000 VMs in one namespace, each naming one of 100 NADs. Run with
// -benchtime=1x; MiB is the figure.
func BenchmarkProjectionHeapL10(b *testing.B) {
	vmi := &projector{kind: KindVMI, logger: zap.NewNop()}
	vm := &projector{kind: KindVM, logger: zap.NewNop()}
	var heap float64
	for b.Loop() {
		heap = liveBytes(func() any {
			vmis, vms := newProjectionStore(&atomic.Int64{}), newProjectionStore(&atomic.Int64{})
			for i := range 20_000 {
				if err := vmis.put(vmi.build("bench", fmt.Sprintf("vmi-%d", i), strconv.Itoa(100_000+i),
					fmt.Sprintf("node-%d", i%300), []string{fmt.Sprintf("bench/vlan-%d", i%100)})); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 10_000 {
				if err := vms.put(vm.build("bench", fmt.Sprintf("vm-%d", i), strconv.Itoa(200_000+i),
					"", []string{fmt.Sprintf("bench/vlan-%d", i%100)})); err != nil {
					b.Fatal(err)
				}
			}
			return [2]*projectionStore{vmis, vms}
		})
	}
	b.ReportMetric(heap/(1<<20), "MiB")
}

// liveBytes returns the live heap growth while what fill returns is alive.
func liveBytes(fill func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := fill()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
}
