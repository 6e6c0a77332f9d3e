package certs

import "context"

// Ensure makes one pass of a Keeper without watching: it makes sure the CA
// Secret and the serving Secret in opts.Namespace hold a usable CA and a
// leaf it signed covering opts.SANs(), creating or replacing what does not,
// and returns them ready to serve. Nothing renews or reloads them later;
// a long-running server uses a Keeper. Replicas may run it concurrently:
// writes are create-if-absent or updates at the resourceVersion read, and
// a replica that loses a race uses the winner's. secrets must be a client
// for opts.Namespace.
func Ensure(ctx context.Context, secrets SecretClient, opts Options) (*Bundle, error) {
	k, err := newKeeper(secrets, opts)
	if err != nil {
		return nil, err
	}
	if err := k.sync(ctx); err != nil {
		return nil, err
	}
	return &k.bundle, nil
}
