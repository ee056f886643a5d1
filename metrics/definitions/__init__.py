"""The metrics' definitions, by domain: which rows each metric reads, which aggregates, and
how the aggregated row becomes a figure (`base`: what a definition is; `surveys`, `tickets`,
`contacts`, `commerce`, `customer_base`: the metrics of each). `metrics.registry` lists them;
`metrics.engine` evaluates them."""
