package admission

// The handler table. Upstream registers the mutators M1, M2 and the
// validators V1..V3 in this order, and the webhook configurations list their
// rules in the same order.

func mutationRoutes(Profile) []route {
	return []route{nadMutator(), vlanConfigMutator()}
}

// validationRoutes lists V1..V5: the ClusterNetwork validator serves UPDATE
// from v1.6, the HostNetworkConfig validator exists from v1.8, and the
// kube-ovn Subnet validator from v1.6, served only while kube-ovn is
// installed (upstream registered it when the CRD existed at start-up).
func validationRoutes(p Profile) []route {
	routes := []route{clusterNetworkValidator(p), nadValidator(), vlanConfigValidator()}
	if p.atLeast(V1_8) {
		routes = append(routes, hostNetworkConfigValidator())
	}
	if p.atLeast(V1_6) {
		subnet := subnetValidator()
		subnet.kubeOVN = true
		routes = append(routes, subnet)
	}
	return routes
}
