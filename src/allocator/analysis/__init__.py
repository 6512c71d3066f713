"""Post-solve tools: bottleneck prices, why-not, rolling weeks, trade-off curves, comparisons."""
