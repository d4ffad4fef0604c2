package metrics

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestEMFLimits: a group of more than 100 metrics sharing dimensions is
// split, no document exceeding EMF's 100 metrics.
func TestEMFLimits(t *testing.T) {
	var all []*series
	for i := range 250 {
		all = append(all, &series{name: fmt.Sprintf("m%03d", i), unit: "Count", labels: []string{"app"}, values: []string{"web"}, sum: 1})
	}
	all = append(all, &series{name: "empty", unit: "Count", labels: []string{"app"}, values: []string{""}, sum: 1})
	docs := emfDocuments(all, time.Now())
	var sizes []int
	for _, d := range docs {
		var doc struct {
			AWS struct{ CloudWatchMetrics []struct{ Metrics []any } } `json:"_aws"`
			App string                                                `json:"app"`
		}
		if err := json.Unmarshal(d, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.App == "" {
			t.Errorf("empty dimension value in %s", d)
		}
		sizes = append(sizes, len(doc.AWS.CloudWatchMetrics[0].Metrics))
	}
	if fmt.Sprint(sizes) != "[1 100 100 50]" {
		t.Errorf("metrics per document %v, want [1 100 100 50]", sizes)
	}
}
