package harness

import (
	"encoding/json"
	"fmt"
)

// TenantNetwork is what a valid NAD of namespace tenant needs: a node, a
// ready cluster network "data" with a VlanConfig on the node, and the
// namespace. The VlanConfig carries what its mutator would set, as the
// webhook may not run yet.
const TenantNetwork = `
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: data}
status: {conditions: [{type: ready, status: "True"}]}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata:
  name: vc-data
  labels: {network.harvesterhci.io/clusternetwork: data}
  annotations: {network.harvesterhci.io/matched-nodes: '["n1"]'}
spec:
  clusterNetwork: data
  uplink: {nics: [eth1], linkAttributes: {mtu: 1500}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tenant}
`

// TenantNAD is the bridge NAD tenant/name on data-br (TenantNetwork) whose
// config also has members, raw JSON such as `"vlan":10`.
func TenantNAD(name, members string) string {
	config := fmt.Sprintf(`{"cniVersion":"0.3.1","name":%q,"type":"bridge","bridge":"data-br","promiscMode":true,%s,"ipam":{}}`, name, members)
	c, err := json.Marshal(config)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition",
"metadata":{"name":%q,"namespace":"tenant"},"spec":{"config":%s}}`, name, c)
}
