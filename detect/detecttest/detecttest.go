// Package detecttest builds the cluster objects the release detection
// reads, for tests.
package detecttest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
)

// ReleaseData returns a Helm release of chart harvester at chartVersion as
// Helm's Secret storage keeps it in data.release: base64 of gzipped JSON,
// with the members in Helm's order (the chart's metadata before its
// templates, the rendered manifest after the chart).
func ReleaseData(chartVersion string) []byte {
	v, err := json.Marshal(chartVersion)
	if err != nil {
		panic(err)
	}
	js := `{"name":"harvester","info":{"status":"deployed","description":"Upgrade complete"},` +
		`"chart":{"metadata":{"name":"harvester","version":` + string(v) + `,"apiVersion":"v2"},` +
		`"lock":null,"templates":[{"name":"templates/deployment.yaml","data":"e30="}],"values":{},"schema":null,"files":[]},` +
		`"config":{},"manifest":"---\n# Source: harvester/templates/deployment.yaml\n","version":1,"namespace":"harvester-system"}`
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(js))
	_ = w.Close()
	return []byte(base64.StdEncoding.EncodeToString(gz.Bytes()))
}
