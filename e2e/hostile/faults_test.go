package hostile

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// network creates ClusterNetwork cn and VlanConfig vc on it (MTU mtu),
// and waits until the webhook's caches hold the VlanConfig: a delete of the
// ClusterNetwork is then refused for it, from metadata alone.
func network(t *testing.T, cn, vc string, mtu int) {
	t.Helper()
	harness.Eventually(t, "cluster network "+cn, func() error {
		_, err := env.client.Apply(t.Context(), fmt.Appendf(nil, `
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: %[1]s}
status: {conditions: [{type: ready, status: "True"}]}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata: {name: %[2]s}
spec:
  clusterNetwork: %[1]s
  nodeSelector: {hostile: "yes"}
  uplink: {nics: [eth1], linkAttributes: {mtu: %[3]d}}
`, cn, vc, mtu))
		return err
	})
	del := review("DELETE", "ClusterNetwork", "network.harvesterhci.io", "v1beta1", "clusternetworks", "", cn, "",
		fmt.Sprintf(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":%q}}`, cn))
	harness.Eventually(t, "the webhook to see "+vc, func() error {
		return decision(vc)(post(t.Context(), directClient(false), validation, "application/json", bytesReader(del)))
	})
}

// nadOn is a NAD on cluster network cn, labelled with it as the UI does,
// without an MTU: the mutator sets the cluster network's.
func nadOn(name, cn string) string {
	c, _ := json.Marshal(fmt.Sprintf(`{"cniVersion":"0.3.1","name":%q,"type":"bridge","bridge":"%s-br","vlan":10,"ipam":{}}`, name, cn))
	return fmt.Sprintf(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":%q,"namespace":"default",
"labels":{"network.harvesterhci.io/clusternetwork":%q}},"spec":{"config":%s}}`, name, cn, c)
}

// The API server made slow: while GETs through it take seconds, reviews
// that need them are answered with the right decision; when they take
// longer than the review's timeout, the webhook answers before the API
// server gives up, with a denial naming the object it could not read.
func TestSlowAPIServer(t *testing.T) {
	applyBase(t)
	network(t, "slow1", "vc-slow1", 9000)
	network(t, "slow2", "vc-slow2", 9000)
	defer func() {
		env.proxy.SetDelay(0)
		env.proxy.Cut() // chunks already held keep their delay
	}()

	env.proxy.SetDelay(2 * time.Second)
	began := time.Now()
	out, err := dryRunCreate(t.Context(), nadOn("slow-ok", "slow1"))
	took := time.Since(began)
	if err != nil || !strings.Contains(nadConfigOf(out), `"mtu":9000`) {
		t.Errorf("a NAD on slow1 with GETs 2 s slow: %v (config %q), want its MTU set to 9000", err, nadConfigOf(out))
	}
	t.Logf("answered after %s with every GET 2 s slow", took.Round(time.Millisecond))
	if took > 9*time.Second {
		t.Errorf("answered after %s, want within the 10 s timeout", took)
	}

	// slow2 is in the cache (the VlanConfig's admission read it), vc-slow2
	// is not: the mutator must GET it.
	env.proxy.SetDelay(30 * time.Second)
	began = time.Now()
	_, err = dryRunCreate(t.Context(), nadOn("slow-late", "slow2"))
	took = time.Since(began)
	want := `admission webhook "mutator.harvester-system.harvester-network-webhook" denied the request: Internal error occurred: ` +
		`can't create nad default/slow-late because cannot read vlanconfigs.network.harvesterhci.io vc-slow2 from the API server: context deadline exceeded`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a NAD on slow2 with GETs 30 s slow: %v, want %q", err, want)
	}
	t.Logf("answered after %s with every GET 30 s slow", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("answered after %s, past the API server's 10 s timeout", took)
	}
}

// An object changed right after a review fetched it into the cache: the
// next review after the webhook's cache sees the change decides on the new
// version, and none goes back to the old one.
func TestAChangeAfterAFetchIsSeen(t *testing.T) {
	applyBase(t)
	network(t, "chg", "vc-chg", 9000)
	ctx := t.Context()
	mtuOf := func() (string, error) {
		out, err := dryRunCreate(ctx, nadOn("chg-nad", "chg"))
		if err != nil {
			return "", err
		}
		return nadConfigOf(out), nil
	}
	if c, err := mtuOf(); err != nil || !strings.Contains(c, `"mtu":9000`) {
		t.Fatalf("before the change: %q, %v; want MTU 9000", c, err)
	}
	vc := &unstructured.Unstructured{}
	vc.SetAPIVersion("network.harvesterhci.io/v1beta1")
	vc.SetKind("VlanConfig")
	vc.SetName("vc-chg")
	cur, err := env.client.Get(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(cur.Object, int64(1400), "spec", "uplink", "linkAttributes", "mtu"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	var seen time.Duration
	for seen == 0 {
		c, err := mtuOf()
		switch {
		case err != nil && strings.Contains(err.Error(), "nad MTU 9000 does not match cluster network MTU 1400"):
			// The mutator decided before the webhook's cache saw the
			// change, the validator after it: the new version denies.
		case err != nil:
			t.Fatal(err)
		case strings.Contains(c, `"mtu":1400`):
			seen = time.Since(changed)
		}
		if seen == 0 && time.Since(changed) > 5*time.Second {
			t.Fatalf("5 s after the change the MTU is still %q (%v)", c, err)
		}
	}
	t.Logf("the new MTU decided on %s after the update", seen.Round(time.Millisecond))
	for range 10 {
		if c, err := mtuOf(); err != nil || !strings.Contains(c, `"mtu":1400`) {
			t.Fatalf("after the change was seen: %q, %v; want MTU 1400", c, err)
		}
	}
}

// vlanStatusName is the controller's name of a VlanStatus.
func vlanStatusName(cn, node string) string {
	s := cn + "-" + node
	sum := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(s)))
	if len(s) > 54 {
		s = s[:54]
	}
	return s + "-" + sum
}

func vlanStatusJSON(cn, node, vc string) string {
	return fmt.Sprintf(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanStatus","metadata":{"name":%q,
"labels":{"network.harvesterhci.io/clusternetwork":%q,"network.harvesterhci.io/vlanconfig":%q,"network.harvesterhci.io/node":%q}},
"status":{"clusterNetwork":%q,"vlanConfig":%q,"node":%q}}`, vlanStatusName(cn, node), cn, vc, node, cn, vc, node)
}

// A watch that expires is followed by a relist: the cache then holds what
// changed while the webhook was cut off, deletions included, and the memory
// stays within the L1 budget. The webhook's VlanStatus watch expires when
// it is resumed after a short outage: the kind was quiet for longer than
// the API server keeps revisions, so its resourceVersion is compacted away.
// (After a long outage client-go's backoff delays the resumed watch by up
// to a minute; the expiry is the same.)
func TestAnExpiredWatchRelistsWithoutAMemorySpike(t *testing.T) {
	applyBase(t)
	network(t, "exp", "vc-exp", 1500)
	ctx := t.Context()
	create(t, 0, 300, "vc-exp")
	before := liveHeapAfterGC(t)
	heap := sampleMax("go_memstats_heap_inuse_bytes", 50*time.Millisecond)
	live := sampleMax("go_gc_heap_live_bytes", 50*time.Millisecond)

	vs := env.client.Dynamic.Resource(vlanStatuses)
	l, err := vs.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	lastSeen := l.GetResourceVersion() // no earlier than anything the webhook saw
	time.Sleep(3 * compactionInterval)
	if err := expired(ctx, lastSeen); err != nil {
		t.Fatal(err)
	}
	outage := time.Now()
	env.proxy.Pause()
	// Changed while the webhook cannot watch.
	create(t, 300, 310, "vc-other")
	if err := vs.Delete(ctx, vlanStatusName("exp", "node-0000"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.proxy.Resume(); err != nil {
		t.Fatal(err)
	}

	var requests []string
	harness.Eventually(t, "the webhook's watch to expire and a relist to follow", func() (err error) {
		requests, err = expiredThenRelisted(t, outage, lastSeen)
		return err
	})
	t.Logf("the webhook's VlanStatus requests after the outage: %q", requests)
	overlap := func(node string) []byte {
		return review("CREATE", "VlanConfig", "network.harvesterhci.io", "v1beta1", "vlanconfigs", "", "vc-exp2", fmt.Sprintf(
			`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-exp2","labels":{"network.harvesterhci.io/clusternetwork":"exp"},
"annotations":{"network.harvesterhci.io/matched-nodes":"[\"%s\"]"}},"spec":{"clusterNetwork":"exp","uplink":{"nics":["eth2"],"linkAttributes":{"mtu":1500}}}}`, node), "")
	}
	harness.Eventually(t, "the cache to hold what changed during the outage", func() error {
		if n, err := cachedObjects("VlanStatus"); err != nil || n != 309 {
			return fmt.Errorf("%d VlanStatuses cached, want 300 + 10 created - 1 deleted (%w)", n, err)
		}
		return decision("it overlaps with other vlanconfigs matching node(s) [node-0305]")(
			post(ctx, directClient(false), validation, "application/json", bytesReader(overlap("node-0305"))))
	})
	peak, peakLive := heap(), live()
	after := liveHeapAfterGC(t)
	t.Logf("relist: live heap %.1f MiB before, at most %.1f MiB during, %.1f MiB after; heap in use at most %.1f MiB",
		mib(before), mib(peakLive), mib(after), mib(peak))
	if peakLive > l1LiveHeapBudget || after > l1LiveHeapBudget {
		t.Errorf("live heap up to %.1f MiB (%.1f MiB after), want under the L1 budget of %.0f MiB", mib(peakLive), mib(after), mib(l1LiveHeapBudget))
	}
	healthy(t)
}

var vlanStatuses = schema.GroupVersionResource{Group: "network.harvesterhci.io", Version: "v1beta1", Resource: "vlanstatuses"}

// expired checks that a watch from resourceVersion rv expires: its
// revision has been compacted away.
func expired(ctx context.Context, rv string) error {
	w, err := env.client.Dynamic.Resource(vlanStatuses).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return nil
		}
		return err
	}
	defer w.Stop()
	ev := <-w.ResultChan()
	if st, ok := ev.Object.(*metav1.Status); ok && st.Code == http.StatusGone {
		return nil
	}
	return fmt.Errorf("a watch from resourceVersion %s got %s %v, want it expired", rv, ev.Type, ev.Object)
}

// cachedObjects reads the webhook's count of cached objects of kind.
func cachedObjects(kind string) (int, error) {
	resp, err := http.Get(env.webhook.HealthURL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	prefix := `harvester_network_webhook_cached_objects{kind="` + kind + `"} `
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", strings.TrimSpace(prefix))
}

// create makes VlanStatuses of cluster network exp for nodes from..to-1,
// owned by vc.
func create(t *testing.T, from, to int, vc string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, to-from)
	sem := make(chan struct{}, 8)
	for i := from; i < to; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := env.client.Apply(t.Context(), []byte(vlanStatusJSON("exp", fmt.Sprintf("node-%04d", i), vc)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// auditEvent is the part of a kube-apiserver audit event the test reads.
type auditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	RequestURI string    `json:"requestURI"`
	Received   time.Time `json:"requestReceivedTimestamp"`
}

// expiredThenRelisted checks the audit log for the webhook's VlanStatus
// requests since the outage: a watch resumed from a resourceVersion no
// later than lastSeen (compacted away), then a relist, as a LIST or as a
// watch that streams the initial list (client-go's WatchList).
func expiredThenRelisted(t *testing.T, since time.Time, lastSeen string) ([]string, error) {
	t.Helper()
	b, err := os.ReadFile(env.auditLog)
	if err != nil {
		return nil, err
	}
	last, _ := strconv.ParseInt(lastSeen, 10, 64)
	resumed := false
	var seen []string
	for _, line := range strings.Split(string(b), "\n") {
		var e auditEvent
		if json.Unmarshal([]byte(line), &e) != nil || e.Received.Before(since) || e.User.Username != "admin" {
			continue
		}
		u, err := url.Parse(e.RequestURI)
		if err != nil {
			continue
		}
		q := u.Query()
		rv, _ := strconv.ParseInt(q.Get("resourceVersion"), 10, 64)
		seen = append(seen, e.Verb+" "+u.RawQuery)
		switch {
		case e.Verb == "watch" && q.Get("sendInitialEvents") != "true" && rv > 0 && rv <= last:
			resumed = true
		case resumed && (e.Verb == "list" || q.Get("sendInitialEvents") == "true"):
			return seen, nil
		}
	}
	return nil, fmt.Errorf("no watch from a compacted resourceVersion (at most %s) followed by a relist among %q", lastSeen, seen)
}
