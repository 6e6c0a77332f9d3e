package admission

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func TestQuoteCutsLongValuesAndSaysSo(t *testing.T) {
	if got := quote("short"); got != "short" {
		t.Errorf("quote(short) = %q", got)
	}
	long := strings.Repeat("é", maxQuoted) // two bytes a rune: the cut falls inside one
	got := quote(long)
	want := fmt.Sprintf(" (cut: %d bytes in all)", len(long))
	if !strings.HasSuffix(got, "…"+want) || len(got) > maxQuoted+len("…")+len(want) || !utf8.ValidString(got) {
		t.Errorf("quote(%d bytes) = %d bytes ending %q, want at most %d bytes of valid UTF-8 ending %q",
			len(long), len(got), got[len(got)-40:], maxQuoted, want)
	}
	if err := quoteError(nil); err != nil {
		t.Errorf("quoteError(nil) = %v", err)
	}
}

// hugeValue is what a review can carry in any field: as much as an API
// server accepts in a request.
var hugeValue = strings.Repeat("z", 3<<20)

// No answer grows with the bytes a request chooses: wherever a megabyte
// value lands, the denial quotes a bounded part of it, says it was cut,
// and its cause does not repeat it.
func TestDenialsOfHugeValuesAreBounded(t *testing.T) {
	const maxAnswer = 8 << 10
	hugeJSON, _ := json.Marshal(hugeValue)
	tests := []struct {
		name    string
		version Version
		webhook string
		op      admissionv1.Operation
		object  string
		old     string
		want    string // the start of the denial text
		// quoted: the text quotes the value (cut), rather than only
		// saying what is wrong with it.
		quoted bool
	}{
		{"config that is not JSON (v1.4)", V1_4, "validation", admissionv1.Create,
			nad("default", "n", "{}", "{}", hugeValue), "", "could not create nad default/n because unmarshal config zzz", true},
		{"config that is not JSON (v1.9)", V1_9, "validation", admissionv1.Create,
			nad("default", "n", "{}", "{}", hugeValue), "", "can't create nad default/n because failed to unmarshal nad default/n config zzz", true},
		{"old and new configs that are not JSON", V1_4, "validation", admissionv1.Update,
			nad("default", "n", "{}", "{}", hugeValue), nad("default", "n", "{}", "{}", hugeValue), "could not update nad default/n because unmarshal config zzz", true},
		{"number literal of megabytes", V1_4, "validation", admissionv1.Create,
			nad("default", "n", "{}", "{}", `{"bridge":"data-br","vlan":1`+strings.Repeat("0", 3<<20)+`}`), "",
			"could not create nad default/n because unmarshal config {\"bridge\":\"data-br\",\"vlan\":1000", true},
		{"route annotation that is not JSON", V1_4, "validation", admissionv1.Create,
			nad("default", "n", "{}", `{"network.harvesterhci.io/route":`+string(hugeJSON)+`}`, vlan100Config), "",
			"could not create nad default/n because unmarshal zzz", true},
		{"bridge name", V1_9, "validation", admissionv1.Create,
			nad("default", "n", "{}", "{}", `{"type":"bridge","bridge":"`+hugeValue+`-br"}`), "",
			"can't create nad default/n because the length of the bridge name zzz", true},
		{"NAD name", V1_4, "validation", admissionv1.Create,
			nad("default", hugeValue, "{}", "{}", `{"bridge":"data-br","vlan":5000}`), "", "could not create nad default/zzz", true},
		{"cluster network name", V1_9, "validation", admissionv1.Create,
			`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"ClusterNetwork","metadata":{"name":` + string(hugeJSON) + `}}`, "",
			"can't create cluster network zzz", true},
		{"matched-nodes annotation that is not JSON", V1_4, "validation", admissionv1.Create,
			vlanConfig("vc", "data", `{"network.harvesterhci.io/matched-nodes":`+string(hugeJSON)+`}`, uplink1500), "",
			"could not create vlanConfig vc because invalid character 'z' looking for beginning of value", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := informerstest.NewVersion(t, int(tt.version), clusterObjects(t, []string{cnData})...).Store
			r := chi.NewRouter()
			NewServer(Config{Profile: Profile{Version: tt.version}, Store: store}).Routes(r)
			rec := post(t, r, "/v1/webhook/"+tt.webhook, "application/json", reviewFor(t, "admission.k8s.io/v1", tt.op, tt.object, tt.old))
			if rec.Body.Len() > maxAnswer {
				t.Errorf("answer of %d bytes, want at most %d", rec.Body.Len(), maxAnswer)
			}
			resp := decodeResponse(t, rec)
			if resp.Allowed || resp.Result == nil {
				t.Fatalf("allowed, want a denial")
			}
			text := strings.TrimPrefix(resp.Result.Message, "Internal error occurred: ")
			if !strings.HasPrefix(text, tt.want) || strings.Contains(text, " bytes in all)") != tt.quoted {
				t.Errorf("denial %.200q…, want it to start %q and, if it quotes the value, to say it was cut", text, tt.want)
			}
			if c := resp.Result.Details.Causes; len(c) != 1 || len(c[0].Message) > maxQuoted+64 || !strings.HasPrefix(text, strings.TrimSuffix(c[0].Message[:64], "…")) {
				t.Errorf("cause %+v, want the first KiB of the text", c)
			}
		})
	}
}

// A denial longer than a quote (a VlanConfig naming thousands of VMs) is
// answered whole; only its cause is cut.
func TestLongDenialsKeepTheirTextAndCutTheCause(t *testing.T) {
	vms := make([]string, 3000)
	for i := range vms {
		vms[i] = fmt.Sprintf("default/vm-%04d", i)
	}
	err := fmt.Errorf("it's blocked by VM(s) %s which must be stopped at first", strings.Join(vms, ", "))
	resp := denied(&admissionv1.AdmissionRequest{UID: "u"}, err)
	if resp.Result.Message != "Internal error occurred: "+err.Error() {
		t.Errorf("message of %d bytes, want the whole %d-byte text", len(resp.Result.Message), len(err.Error()))
	}
	if c := resp.Result.Details.Causes[0].Message; !strings.HasPrefix(c, "it's blocked by VM(s) default/vm-0000") ||
		!strings.HasSuffix(c, fmt.Sprintf("(cut: %d bytes in all)", len(err.Error()))) || resp.Result.Code != http.StatusInternalServerError {
		t.Errorf("cause %q…, want the first KiB and the full length", c[:80])
	}
	huge := denied(&admissionv1.AdmissionRequest{UID: "u"}, fmt.Errorf("%s", strings.Repeat("v", 4*maxDenialBytes)))
	if n := len(huge.Result.Message); n > maxDenialBytes+100 {
		t.Errorf("a %d-byte denial is answered with %d bytes, want at most %d", 4*maxDenialBytes, n, maxDenialBytes+100)
	}
}
