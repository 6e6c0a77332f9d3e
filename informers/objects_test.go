package informers_test

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Object builders for the tests; the shapes follow the parity corpus.

func object(apiVersion, kind, ns, name string, labels, annotations map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	if labels != nil {
		meta["labels"] = labels
	}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}}
}

func node(name string, labels map[string]any) *unstructured.Unstructured {
	return object("v1", "Node", "", name, labels, nil)
}

func nad(ns, name string, labels, annotations map[string]any) *unstructured.Unstructured {
	u := object("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", ns, name, labels, annotations)
	u.Object["spec"] = map[string]any{"config": `{"cniVersion":"0.3.1","type":"bridge"}`}
	return u
}

func clusterNetwork(name, ready string) *unstructured.Unstructured {
	u := object("network.harvesterhci.io/v1beta1", "ClusterNetwork", "", name, nil,
		map[string]any{"network.harvesterhci.io/uplink-mtu": "9000", "other.example.com/noise": "x"})
	if ready != "" {
		u.Object["status"] = map[string]any{"conditions": []any{
			map[string]any{"type": "ready", "status": ready, "lastUpdateTime": "2026-11-20T08:15:30Z"},
		}}
	}
	return u
}

func vlanConfig(name, cn string, mtu int64) *unstructured.Unstructured {
	u := object("network.harvesterhci.io/v1beta1", "VlanConfig", "", name,
		map[string]any{"network.harvesterhci.io/clusternetwork": cn},
		map[string]any{"network.harvesterhci.io/matched-nodes": `["harv-node-01"]`})
	u.Object["spec"] = map[string]any{
		"clusterNetwork": cn,
		"nodeSelector":   map[string]any{"kubernetes.io/hostname": "harv-node-01"},
		"uplink": map[string]any{
			"nics":           []any{"ens5"},
			"bondOptions":    map[string]any{"mode": "active-backup", "miimon": int64(-1)},
			"linkAttributes": map[string]any{"mtu": mtu, "txQLen": int64(-1)},
		},
	}
	return u
}

// vlanStatus is a ready VlanStatus of cluster network "data".
func vlanStatus(name, vc string) *unstructured.Unstructured {
	const cn, ready = "data", "True"
	u := object("network.harvesterhci.io/v1beta1", "VlanStatus", "", name,
		map[string]any{
			"network.harvesterhci.io/clusternetwork": cn,
			"network.harvesterhci.io/vlanconfig":     vc,
		}, nil)
	u.Object["status"] = map[string]any{
		"clusterNetwork": cn, "vlanConfig": vc,
		"conditions": []any{map[string]any{"type": "ready", "status": ready}},
	}
	return u
}

// vmi builds a VirtualMachineInstance on node with a pod network and one
// multus network per name in networks.
func vmi(ns, name, node string, networks ...string) *unstructured.Unstructured {
	u := object("kubevirt.io/v1", "VirtualMachineInstance", ns, name,
		map[string]any{"harvesterhci.io/vmName": name, "kubevirt.io/nodeName": node},
		map[string]any{"kubevirt.io/latest-observed-api-version": "v1"})
	nets := []any{map[string]any{"name": "default", "pod": map[string]any{}}}
	ifaces := []any{map[string]any{"name": "default", "masquerade": map[string]any{}, "model": "virtio"}}
	for i, n := range networks {
		nic := "nic-" + string(rune('1'+i))
		nets = append(nets, map[string]any{"name": nic, "multus": map[string]any{"networkName": n}})
		ifaces = append(ifaces, map[string]any{"name": nic, "bridge": map[string]any{}, "model": "virtio"})
	}
	u.Object["spec"] = map[string]any{
		"domain": map[string]any{
			"cpu":       map[string]any{"cores": int64(2), "sockets": int64(1), "threads": int64(1)},
			"devices":   map[string]any{"interfaces": ifaces},
			"resources": map[string]any{"requests": map[string]any{"memory": "4Gi"}},
		},
		"networks": nets,
	}
	u.Object["status"] = map[string]any{"nodeName": node, "phase": "Running"}
	return u
}

// vm builds a VirtualMachine with a pod network and one multus network per
// name in networks, in spec.template.spec.
func vm(ns, name string, networks ...string) *unstructured.Unstructured {
	u := object("kubevirt.io/v1", "VirtualMachine", ns, name,
		map[string]any{"harvesterhci.io/creator": "harvester"},
		map[string]any{"harvesterhci.io/vmRunStrategy": "RerunOnFailure"})
	nets := []any{map[string]any{"name": "default", "pod": map[string]any{}}}
	for i, n := range networks {
		nets = append(nets, map[string]any{"name": "nic-" + string(rune('1'+i)), "multus": map[string]any{"networkName": n}})
	}
	u.Object["spec"] = map[string]any{
		"runStrategy": "RerunOnFailure",
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"harvesterhci.io/vmName": name}},
			"spec": map[string]any{
				"domain":   map[string]any{"cpu": map[string]any{"cores": int64(2)}},
				"networks": nets,
			},
		},
	}
	u.Object["status"] = map[string]any{"printableStatus": "Running", "ready": true}
	return u
}

func hostNetworkConfig(name, cn string, vid int64, underlay bool) *unstructured.Unstructured {
	u := object("network.harvesterhci.io/v1beta1", "HostNetworkConfig", "", name, nil,
		map[string]any{"other.example.com/noise": "x"})
	u.Object["spec"] = map[string]any{
		"clusterNetwork": cn,
		"vlanID":         vid,
		"underlay":       underlay,
		"mode":           "static",
		"ips":            map[string]any{"harv-node-01": "10.0.100.11/24", "harv-node-02": "10.0.100.12/24"},
		"nodeSelector": map[string]any{
			"matchLabels": map[string]any{"kubernetes.io/os": "linux"},
			"matchExpressions": []any{map[string]any{
				"key": "node-role.kubernetes.io/witness", "operator": "DoesNotExist",
			}},
		},
	}
	u.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "ready", "status": "True"}}}
	return u
}

func subnet(name, provider string) *unstructured.Unstructured {
	u := object("kubeovn.io/v1", "Subnet", "", name, nil, nil)
	spec := map[string]any{"cidrBlock": "172.20.0.0/16", "protocol": "IPv4", "vpc": "ovn-cluster"}
	if provider != "" {
		spec["provider"] = provider
	}
	u.Object["spec"] = spec
	u.Object["status"] = map[string]any{"v4usingIPs": int64(3)}
	return u
}

func vpc(name string) *unstructured.Unstructured {
	u := object("kubeovn.io/v1", "Vpc", "", name, nil, nil)
	u.Object["spec"] = map[string]any{"enableExternal": false}
	return u
}
