"""Research tools: benchmark runs over formulations and instance sets."""
