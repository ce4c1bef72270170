"""The App Store as its people use it: what they see (views), what they may change (actions),
and `kubectl cg`. Every API call is made with the person's own credentials."""
