package admission

// The handler table. Upstream registers the mutators M1, M2 and the
// validators V1..V3 in this order, and the webhook configurations list their
// rules in the same order.

func mutationRoutes(Profile) []route {
	return []route{nadMutator(), vlanConfigMutator()}
}

func validationRoutes(Profile) []route {
	return []route{clusterNetworkValidator(), nadValidator(), vlanConfigValidator()}
}
