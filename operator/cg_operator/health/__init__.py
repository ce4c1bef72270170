"""Service health: HTTP probes behind an SSRF guard, workload availability."""
