"""Jinja2 environment and templates that turn desired state into Kubernetes object dicts. Pure."""
