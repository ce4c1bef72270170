"""Pure planning: (spec, observed state) -> desired objects, next status, rollout steps."""
