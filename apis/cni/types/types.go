// Package types declares the CNI network configuration common to every
// plugin, mirroring containernetworking/cni v1.1's types.NetConf (the version
// upstream's webhook builds with) field for field
// (its name shows in decode errors, and "config unchanged" compares all of it).
package types

// NetConf is the part of a CNI configuration shared by all plugins.
type NetConf struct {
	CNIVersion    string                 `json:"cniVersion,omitempty"`
	Name          string                 `json:"name,omitempty"`
	Type          string                 `json:"type,omitempty"`
	Capabilities  map[string]bool        `json:"capabilities,omitempty"`
	IPAM          IPAM                   `json:"ipam,omitempty"`
	DNS           DNS                    `json:"dns"`
	RawPrevResult map[string]interface{} `json:"prevResult,omitempty"`
}

// IPAM names the IPAM plugin.
type IPAM struct {
	Type string `json:"type,omitempty"`
}

// DNS is the DNS configuration of a network.
type DNS struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Domain      string   `json:"domain,omitempty"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
}
