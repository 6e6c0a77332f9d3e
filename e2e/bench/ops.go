package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

const (
	validationPath = "/v1/webhook/validation"
	mutationPath   = "/v1/webhook/mutation"
)

func uid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type gvkr struct{ group, version, kind, resource string }

var (
	nadType = gvkr{"k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition", "network-attachment-definitions"}
	vcType  = gvkr{"network.harvesterhci.io", "v1beta1", "VlanConfig", "vlanconfigs"}
)

// reviewBody is an AdmissionReview as kube-apiserver sends it.
func reviewBody(t gvkr, op, namespace, name string, object, oldObject map[string]any) ([]byte, error) {
	kind := map[string]any{"group": t.group, "version": t.version, "kind": t.kind}
	res := map[string]any{"group": t.group, "version": t.version, "resource": t.resource}
	opts := map[string]string{"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}[op]
	req := map[string]any{
		"uid": uid(), "kind": kind, "resource": res, "requestKind": kind, "requestResource": res,
		"name": name, "operation": op,
		"userInfo": map[string]any{"username": "admin", "groups": []any{"system:masters", "system:authenticated"}},
		"object":   object, "oldObject": oldObject, "dryRun": false,
		"options": map[string]any{"kind": opts, "apiVersion": "meta.k8s.io/v1"},
	}
	if namespace != "" {
		req["namespace"] = namespace
	}
	return json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
}

// stamp adds the metadata the API server sets on stored objects.
func stamp(o map[string]any, rv string) map[string]any {
	md := o["metadata"].(map[string]any)
	md["uid"], md["resourceVersion"], md["creationTimestamp"] = "00000000-0000-0000-0000-00000000b0b0", rv, "2026-11-20T08:15:30Z"
	return o
}

// probeNAD is a NAD every rule set denies (VLAN out of range): the
// readiness probe.
func probeNAD() map[string]any {
	o := nadObject("admission-probe", 5000)
	o["metadata"].(map[string]any)["namespace"] = harness.WebhookNamespace
	return o
}

// operation is one of the four measured admissions, as a direct review and
// as an API request.
type operation struct {
	name   string
	direct func(d *directClient) call
	api    func(c *harness.Client, client int) call
}

// decision names an answer for the report: allowed, or denied.
type decision struct{ allowed bool }

func (d decision) String() string {
	if d.allowed {
		return "allowed"
	}
	return "denied"
}

// operations builds the four measured admissions against the loaded
// cluster. The expected answer of each is the one the webhook gives first
// (see learn); later answers that differ count as errors.
func operations(ctx context.Context, c *harness.Client) ([]operation, error) {
	vc, err := c.Get(ctx, obj(map[string]any{"apiVersion": "network.harvesterhci.io/v1beta1", "kind": "VlanConfig",
		"metadata": map[string]any{"name": benchVlanConfig}}))
	if err != nil {
		return nil, fmt.Errorf("the scenario's VlanConfig: %w", err)
	}
	// The update moves vc-data to node-1 only: the rules must look at the
	// VMIs on the nodes it leaves.
	newVC := vc.DeepCopy()
	_ = unstructured.SetNestedStringMap(newVC.Object, map[string]string{"kubernetes.io/hostname": nodeName(1)}, "spec", "nodeSelector")
	// The validator reads the matched nodes the mutator has written by then.
	ann := newVC.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["network.harvesterhci.io/matched-nodes"] = fmt.Sprintf("[%q]", nodeName(1))
	newVC.SetAnnotations(ann)
	vcBody, err := reviewBody(vcType, "UPDATE", "", benchVlanConfig, newVC.Object, vc.Object)
	if err != nil {
		return nil, err
	}
	used, err := c.Get(ctx, obj(nadObject(nadName(0), 1)))
	if err != nil {
		return nil, fmt.Errorf("the scenario's NAD %s: %w", nadName(0), err)
	}
	delBody, err := reviewBody(nadType, "DELETE", benchNS, nadName(0), nil, used.Object)
	if err != nil {
		return nil, err
	}
	createBody, err := reviewBody(nadType, "CREATE", benchNS, "bench-new", stamp(nadObject("bench-new", 4000), "1"), nil)
	if err != nil {
		return nil, err
	}
	var seq atomic.Int64
	return []operation{
		{
			name:   "nad-create-validate",
			direct: func(d *directClient) call { return d.post(validationPath, createBody) },
			// Through the API server a denied create reaches the validator
			// only, after the mutator.
			api: func(c *harness.Client, _ int) call {
				return func(ctx context.Context) error {
					_, err := c.DryRunCreate(ctx, obj(nadObject(benchProbeNADPfx+"denied", 5000)))
					return asDecision(err)
				}
			},
		},
		{
			name:   "nad-create-mutate",
			direct: func(d *directClient) call { return d.post(mutationPath, createBody) },
			api: func(c *harness.Client, client int) call {
				return func(ctx context.Context) error {
					name := fmt.Sprintf("%s%d-%d", benchProbeNADPfx, client, seq.Add(1))
					_, err := c.DryRunCreate(ctx, obj(nadObject(name, 4000)))
					return asDecision(err)
				}
			},
		},
		{
			name:   "vlanconfig-update-validate",
			direct: func(d *directClient) call { return d.post(validationPath, vcBody) },
			api: func(c *harness.Client, _ int) call {
				return func(ctx context.Context) error {
					ri, err := c.Resource(newVC)
					if err != nil {
						return err
					}
					_, err = ri.Update(ctx, newVC, metav1.UpdateOptions{DryRun: dryRun})
					return asDecision(err)
				}
			},
		},
		{
			name:   "nad-delete-validate",
			direct: func(d *directClient) call { return d.post(validationPath, delBody) },
			// Denied while VMIs use the NAD, so a real delete changes nothing.
			api: func(c *harness.Client, _ int) call {
				return func(ctx context.Context) error { return asDecision(c.Delete(ctx, used)) }
			},
		},
	}, nil
}

// errDenied stands for a webhook denial in API answers.
var errDenied = errors.New("denied")

// asDecision maps an API answer to nil (allowed), errDenied, or the error.
func asDecision(err error) error {
	switch {
	case err != nil && strings.Contains(err.Error(), "denied the request"):
		return errDenied
	case err != nil && strings.Contains(err.Error(), "failed calling webhook"):
		return fmt.Errorf("%w: %w", errUnreachable, err)
	}
	return err
}

// post returns a call whose error is errDenied for a denial.
func (d *directClient) post(path string, body []byte) call {
	return func(ctx context.Context) error {
		allowed, _, err := d.review(ctx, path, body)
		if err == nil && !allowed {
			return errDenied
		}
		return err
	}
}

// learnWindow bounds how long learn waits for a first answer, e.g. while a
// killed webhook restarts.
const learnWindow = 3 * time.Minute

// learn runs do until the webhook answers (it may be restarting after an
// OOM kill): that answer is the one later calls must give.
func learn(ctx context.Context, do call) (decision, error) {
	ctx, cancel := context.WithTimeout(ctx, learnWindow)
	defer cancel()
	for {
		err := do(ctx)
		switch {
		case errors.Is(err, errUnreachable) && ctx.Err() == nil:
			time.Sleep(unreachablePause)
			continue
		case ctx.Err() != nil && err != nil && !errors.Is(err, errDenied):
			return decision{}, fmt.Errorf("%w: nothing answered for %s", errUnreachable, learnWindow)
		case err != nil && !errors.Is(err, errDenied):
			return decision{}, err
		}
		return decision{allowed: err == nil}, nil
	}
}

// checked wraps do so that an answer other than want is an error.
func checked(want decision, do call) call {
	return func(ctx context.Context) error {
		err := do(ctx)
		if err != nil && !errors.Is(err, errDenied) {
			return err
		}
		if got := (decision{allowed: err == nil}); got != want {
			return fmt.Errorf("%s, first answer was %s", got, want)
		}
		return nil
	}
}
