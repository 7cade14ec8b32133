// Command grafana_schema decodes dashboard JSON files with the Grafana Foundation SDK's strict decoder,
// which is generated from Grafana's own dashboard and panel schemas. It prints one problem per line
// and exits 1 if there is any; tests/dashboards/test_grafana_schema.py decides which problems matter.
package main

import (
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

func main() {
	runtime := cog.NewRuntime()
	// Panel options, field config and queries are decoded (strictly) by the plugin they belong to.
	runtime.RegisterPanelcfgVariant(timeseries.VariantConfig())
	runtime.RegisterPanelcfgVariant(stat.VariantConfig())
	runtime.RegisterPanelcfgVariant(bargauge.VariantConfig())
	runtime.RegisterDataqueryVariant(prometheus.VariantConfig())
	failed := false
	for _, path := range os.Args[1:] {
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var board dashboard.Dashboard
		if err := board.UnmarshalJSONStrict(raw); err != nil {
			fmt.Printf("%s: %v\n", path, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
