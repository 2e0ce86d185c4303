"""The model side: catalogue, resolution to a local file, the worker and its client."""
